// Pure: what the ModelDeployment's status should say, from what the reconcile saw and did.
// Conditions follow metav1.Condition and the kstatus convention (Ready summary, Reconciling and
// Stalled as abnormal-true), so `kubectl wait`, Flux and Argo CD read the truth.
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { Condition, ModelDeploymentStatus, ServedModel } from '../api/types.ts';
import { servedModelFromTemplate } from '../render/labels.ts';

export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  Available: 'Available',
  Progressing: 'Progressing',
} as const;

/** Condition reasons (CamelCase, as metav1.Condition requires). */
export const Reason = {
  Ready: 'Ready',
  InvalidSpec: 'InvalidSpec',
  ApplyFailed: 'ApplyFailed',
  ChildConflict: 'ChildConflict',
  Creating: 'Creating',
  RollingOut: 'RollingOut',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  Reconciled: 'Reconciled',
  NotStalled: 'NotStalled',
  Unknown: 'Unknown',
} as const;

export interface StatusInput {
  generation: number;
  previous: ModelDeploymentStatus | undefined;
  now: Date;
  /** The spec failed validation: a message that names the fields. */
  invalidSpec?: string;
  /** A child we must own exists and belongs to someone else. */
  conflict?: string;
  /** Applying or deleting a child failed (we retry). */
  applyError?: string;
  /** Present once the spec is valid. */
  desired?: {
    model: ServedModel;
    selector: string;
    url: string;
    /** With an HPA: the size it must reach before the model counts as Ready. */
    minReplicas?: number;
  };
  deployment?: V1Deployment;
  hpa?: V2HorizontalPodAutoscaler;
}

type Cond = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

function cond(type: string, ok: boolean | 'Unknown', reason: string, message: string): Cond {
  return { type, status: ok === 'Unknown' ? 'Unknown' : ok ? 'True' : 'False', reason, message };
}

interface Rollout {
  complete: boolean;
  stalled: boolean;
  message: string;
}

/** Whether the Deployment has finished rolling out the template we want, as `kubectl rollout status` judges it. */
export function rolloutState(dep: V1Deployment, model: ServedModel, minReplicas = 0): Rollout {
  const st = dep.status ?? {};
  const want = dep.spec?.replicas ?? 1;
  const ours = isDeepStrictEqual(servedModelFromTemplate(dep.spec?.template), model);
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return { complete: false, stalled: true, message: `The rollout of ${model.uri} made no progress before its deadline: ${progressing.message ?? ''}`.trim() };
  }
  if (!ours || (dep.metadata?.generation ?? 0) > (st.observedGeneration ?? 0)) {
    return { complete: false, stalled: false, message: `Waiting for the Deployment to start rolling out ${model.uri}` };
  }
  // A Deployment under an HPA starts at one replica until the HPA raises it to its minimum.
  if (want < minReplicas) return { complete: false, stalled: false, message: `Waiting for the HorizontalPodAutoscaler to scale to its minimum of ${minReplicas} replicas (now ${want})` };
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  if (updated < want) return { complete: false, stalled: false, message: `Rolling out ${model.uri}: ${updated} of ${want} replicas updated` };
  if (total > updated) return { complete: false, stalled: false, message: `Rolling out ${model.uri}: ${total - updated} old replicas are pending termination` };
  if (available < updated) return { complete: false, stalled: false, message: `Rolling out ${model.uri}: ${available} of ${updated} updated replicas are available` };
  return { complete: true, stalled: false, message: `Serving ${model.uri} with ${available} ready replicas` };
}

/** Our Available/Progressing conditions mirror the Deployment's. */
function mirror(type: string, dep: V1Deployment | undefined, absent: string): Cond {
  const c = dep?.status?.conditions?.find((x) => x.type === type);
  if (!c) return cond(type, 'Unknown', Reason.Creating, absent);
  return cond(type, c.status === 'True' ? true : c.status === 'False' ? false : 'Unknown', c.reason ?? Reason.Unknown, c.message ?? '');
}

function computeConditions(input: StatusInput, rollout: Rollout | undefined): Cond[] {
  const available = mirror(ConditionType.Available, input.deployment, 'The Deployment has not reported availability yet');
  const progressing = mirror(ConditionType.Progressing, input.deployment, 'The Deployment has not reported progress yet');

  const terminal = (reason: string, message: string): Cond[] => [
    cond(ConditionType.Ready, false, reason, message),
    cond(ConditionType.Reconciling, false, reason, 'Reconciling stopped: the ModelDeployment must be changed first'),
    cond(ConditionType.Stalled, true, reason, message),
    available,
    progressing,
  ];
  const inProgress = (reason: string, message: string): Cond[] => [
    cond(ConditionType.Ready, false, reason, message),
    cond(ConditionType.Reconciling, true, reason, message),
    cond(ConditionType.Stalled, false, Reason.NotStalled, 'Reconciliation is making progress'),
    available,
    progressing,
  ];

  if (input.invalidSpec !== undefined) return terminal(Reason.InvalidSpec, input.invalidSpec);
  if (input.conflict !== undefined) return terminal(Reason.ChildConflict, input.conflict);
  if (input.applyError !== undefined) return inProgress(Reason.ApplyFailed, input.applyError);
  if (!rollout) return inProgress(Reason.Creating, 'Creating the Deployment, Service and autoscaling objects');
  const r = rollout;
  if (r.stalled) return terminal(Reason.ProgressDeadlineExceeded, r.message);
  if (!r.complete) return inProgress(Reason.RollingOut, r.message);
  return [
    cond(ConditionType.Ready, true, Reason.Ready, r.message),
    cond(ConditionType.Reconciling, false, Reason.Reconciled, 'The children match the spec'),
    cond(ConditionType.Stalled, false, Reason.NotStalled, 'Reconciliation is making progress'),
    available,
    progressing,
  ];
}

/** Keeps lastTransitionTime when a condition's status did not change. */
function stamp(conds: Cond[], previous: Condition[] | undefined, generation: number, now: Date): Condition[] {
  const nowIso = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return conds.map((c) => {
    const prev = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : nowIso;
    return { ...c, observedGeneration: generation, lastTransitionTime };
  });
}

export function computeStatus(input: StatusInput): ModelDeploymentStatus {
  const { deployment: dep, desired, previous, hpa } = input;
  const rollout = dep && desired ? rolloutState(dep, desired.model, desired.minReplicas) : undefined;
  const status: ModelDeploymentStatus = {
    observedGeneration: input.generation,
    conditions: stamp(computeConditions(input, rollout), previous?.conditions, input.generation, input.now),
    replicas: dep?.status?.replicas ?? 0,
    readyReplicas: dep?.status?.readyReplicas ?? 0,
    availableReplicas: dep?.status?.availableReplicas ?? 0,
    updatedReplicas: dep?.status?.updatedReplicas ?? 0,
  };
  const selector = desired?.selector ?? previous?.selector;
  if (selector !== undefined) status.selector = selector;
  const url = desired?.url ?? previous?.url;
  if (url !== undefined) status.url = url;
  // The model being served changes only once the new one is fully rolled out.
  const served = rollout?.complete && desired ? desired.model : previous?.model;
  if (served) status.model = { ...served };
  if (hpa?.status) {
    status.autoscaling = {
      currentReplicas: hpa.status.currentReplicas ?? 0,
      desiredReplicas: hpa.status.desiredReplicas ?? 0,
    };
  }
  return status;
}
