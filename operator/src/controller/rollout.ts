// The plan step's glue: what the caches say about the Deployments of a ModelDeployment (as the
// planner's Slots), and the objects the pass must apply once the planner has decided.
import type { KubernetesObject, V1Deployment, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { parseDuration } from '../api/duration.ts';
import { effectiveRollout, isZeroIntOrPercent } from '../api/defaults.ts';
import type { ValidModelDeployment } from '../api/validate.ts';
import type { DesiredChildren } from '../render/index.ts';
import { PROMOTE_ANNOTATION, ABORT_ANNOTATION, plan, type Plan, type RolloutSettings, type Slot } from '../rollout/plan.ts';
import { REVISION_ANNOTATION, revisionOf, ROLE_LABEL, SLOT_LABEL, shapeSlot } from '../rollout/slots.ts';
import { currentReplicaSet, diagnose } from '../status/diagnose.ts';

export const DEFAULT_READY_TIMEOUT_MS = 5 * 60_000;

/** The field manager that sets replicas on a slot whose template the pass leaves alone. */
export const ROLLOUT_MANAGER = 'modelship-rollout';

export { PROMOTE_ANNOTATION, ABORT_ANNOTATION };

export function rolloutSettings(md: ValidModelDeployment): RolloutSettings {
  const r = md.spec.rollout;
  const canary = r?.canary;
  return {
    strategy: r?.strategy ?? 'RollingUpdate',
    steps: (canary?.steps ?? []).map((s) => {
      const pauseMs = s.pause !== undefined ? parseDuration(s.pause) : undefined;
      return pauseMs === undefined ? { weight: s.weight } : { weight: s.weight, pauseMs };
    }),
    readyTimeoutMs: (canary?.readyTimeout !== undefined ? parseDuration(canary.readyTimeout) : undefined) ?? DEFAULT_READY_TIMEOUT_MS,
    autoRollback: r?.strategy === 'Canary' ? (canary?.autoRollback ?? true) : (r?.autoRollback ?? false),
    noSurge: isZeroIntOrPercent(effectiveRollout(md.spec).maxSurge),
    replicas: md.spec.autoscaling === undefined ? (md.spec.replicas ?? 1) : undefined,
    routed: canary?.trafficRouting?.httpRouteRef !== undefined,
  };
}

/** One backend of the HTTPRoute rule the operator writes. */
export interface RouteBackend {
  name: string;
  port: number;
  weight: number;
}

/** A slot's own Service (HTTPRoute weights need one backend per revision): named like its Deployment. */
export function slotService(service: V1Service, deployment: string, slot: string): V1Service {
  const s = structuredClone(service);
  s.metadata = { ...s.metadata, name: deployment, labels: { ...s.metadata?.labels, [SLOT_LABEL]: slot } };
  delete s.metadata.annotations;
  s.spec = { ...s.spec, type: 'ClusterIP', selector: { ...s.spec?.selector, [SLOT_LABEL]: slot } };
  return s;
}

/**
 * The backends and weights of the HTTPRoute rule: the canary's step weight and the rest to the
 * stable slot, but only to a backend with ready pods (a weight on a Service with no ready endpoint
 * would fail requests). Undefined when a slot has no Service of its own (a Deployment made before
 * trafficRouting was set): traffic then follows ready replicas, through the main Service.
 */
export function routeBackends(plan: Plan, ready: (deployment: string) => number, port: number): RouteBackend[] | undefined {
  const stable = plan.slots.find((s) => s.role === 'stable');
  const canary = plan.slots.find((s) => s.role === 'canary');
  if (!stable?.slot || (canary && !canary.slot)) return undefined;
  const running = plan.rollout?.phase === 'Progressing' || plan.rollout?.phase === 'Paused' || plan.rollout?.phase === 'Promoting';
  if (!canary || !running) return [{ name: stable.name, port, weight: 100 }];
  let canaryWeight = ready(canary.name) > 0 ? Math.min(100, plan.rollout?.weight ?? 0) : 0;
  if (ready(stable.name) === 0 && ready(canary.name) > 0) canaryWeight = 100;
  return [
    { name: stable.name, port, weight: 100 - canaryWeight },
    { name: canary.name, port, weight: canaryWeight },
  ];
}

function deadlineExceeded(d: V1Deployment): boolean {
  const observed = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  return observed && (d.status?.conditions ?? []).some((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
}

/** A Deployment of this ModelDeployment as the planner sees it, with the diagnosis of its pods. */
export function slotOf(d: V1Deployment, replicaSets: readonly V1ReplicaSet[], pods: readonly V1Pod[]): Slot {
  const st = d.status ?? {};
  const observed = (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const spec = d.spec?.replicas ?? 1;
  const rolledOut = observed && (st.updatedReplicas ?? 0) >= spec && (st.replicas ?? 0) === (st.updatedReplicas ?? 0);
  const slot: Slot = {
    name: d.metadata?.name ?? '',
    role: d.metadata?.labels?.[ROLE_LABEL] === 'canary' ? 'canary' : 'stable',
    specReplicas: spec,
    replicas: st.replicas ?? 0,
    readyReplicas: Math.min(st.readyReplicas ?? 0, st.availableReplicas ?? 0),
    rolledOut,
    deadlineExceeded: deadlineExceeded(d),
  };
  const label = d.metadata?.labels?.[SLOT_LABEL];
  if (label !== undefined) slot.slot = label;
  const revision = d.metadata?.annotations?.[REVISION_ANNOTATION];
  if (revision !== undefined) slot.revision = revision;
  // Until its controller has observed the template, its pods are the old template's: not judged.
  if (observed) {
    const problem = diagnose({ deployment: d, replicaSets, pods });
    if (problem) slot.problem = problem;
  }
  const rs = currentReplicaSet(d, replicaSets)?.metadata?.name;
  if (rs !== undefined) slot.replicaSet = rs;
  return slot;
}

/** One object the pass wants, and how it is written. */
export type Wanted =
  /** Server-side apply of the whole object by "modelship". */
  | { how: 'apply'; kind: string; name: string; object: KubernetesObject }
  /** Only the size of a slot whose template is left alone, by ROLLOUT_MANAGER. */
  | { how: 'replicas'; kind: 'Deployment'; name: string; replicas: number }
  /** A slot left exactly as it is (its template, and its size the HPA's): kept, not written. */
  | { how: 'keep'; kind: 'Deployment'; name: string }
  /** The whole Deployment with the template of this ReplicaSet (a rollback of a rolling update). */
  | { how: 'restore'; kind: 'Deployment'; name: string; object: KubernetesObject; replicaSet: string };

/** The objects the pass wants, from the rendered children and the plan. */
export function wantedObjects(desired: DesiredChildren, plan: Plan, routed = false): Wanted[] {
  const out: Wanted[] = [];
  if (routed) {
    for (const s of plan.slots) {
      if (s.slot) out.push({ how: 'apply', kind: 'Service', name: s.name, object: slotService(desired.service, s.name, s.slot) as KubernetesObject });
    }
  }
  for (const s of plan.slots) {
    const shaped = shapeSlot(desired.deployment, { name: s.name, ...(s.slot ? { slot: s.slot } : {}), role: s.role, revision: s.revision, replicas: s.replicas }) as KubernetesObject;
    if (plan.restoreFrom?.deployment === s.name) out.push({ how: 'restore', kind: 'Deployment', name: s.name, object: shaped, replicaSet: plan.restoreFrom.replicaSet });
    else if (s.template === 'desired') out.push({ how: 'apply', kind: 'Deployment', name: s.name, object: shaped });
    else if (s.replicas !== undefined) out.push({ how: 'replicas', kind: 'Deployment', name: s.name, replicas: s.replicas });
    else out.push({ how: 'keep', kind: 'Deployment', name: s.name });
  }
  out.push({ how: 'apply', kind: 'Service', name: desired.service.metadata?.name ?? '', object: desired.service as KubernetesObject });
  if (desired.hpa) {
    const hpa = { ...desired.hpa, spec: { ...desired.hpa.spec!, scaleTargetRef: { ...desired.hpa.spec!.scaleTargetRef, name: plan.hpaTarget } } };
    out.push({ how: 'apply', kind: 'HorizontalPodAutoscaler', name: hpa.metadata?.name ?? '', object: hpa as KubernetesObject });
  }
  if (desired.pdb) out.push({ how: 'apply', kind: 'PodDisruptionBudget', name: desired.pdb.metadata?.name ?? '', object: desired.pdb as KubernetesObject });
  return out;
}

/** A ReplicaSet's pod template as a Deployment template: without the hash label its controller adds. */
export function templateFromReplicaSet(rs: V1ReplicaSet): NonNullable<V1Deployment['spec']>['template'] | undefined {
  const t = rs.spec?.template;
  if (!t) return undefined;
  const out = structuredClone(t);
  if (out.metadata?.labels) delete out.metadata.labels['pod-template-hash'];
  return out;
}


/**
 * What the first pass of a ModelDeployment applies, before any child exists: the rendered
 * children shaped by the rollout plan (the first Deployment's name, role and revision). The same
 * path the reconcile takes; `modelship render` prints it.
 */
export function firstApply(valid: ValidModelDeployment, desired: DesiredChildren): KubernetesObject[] {
  const revision = revisionOf(desired.deployment.spec?.template);
  const settings = rolloutSettings(valid);
  const p = plan({ mdName: valid.metadata.name ?? '', revision, settings, slots: [], previous: undefined, annotations: {}, now: new Date(0) });
  return wantedObjects(desired, p, settings.routed === true).flatMap((w) => (w.how === 'apply' ? [w.object] : []));
}
