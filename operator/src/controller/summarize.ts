// The end of every pass: the status from what the pass saw and wrote, patched once if it changed;
// one Event per outcome and per change of what Ready says; and how the key comes back.
import { isDeepStrictEqual } from 'node:util';
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { RevisionStatus } from '../api/types.ts';
import { wordList } from '../api/schema.ts';
import { selectorString, servedModelFromTemplate, serviceUrl } from '../render/index.ts';
import { REVISION_ANNOTATION } from '../rollout/slots.ts';
import { scaleEvent } from '../status/autoscaling.ts';
import { computeStatus } from '../status/compute.ts';
import { currentReplicaSet } from '../status/diagnose.ts';
import { Reason } from '../status/reasons.ts';
import { classifyError, errorText } from './decisions.ts';
import { childKey, ReconcileError, type Pass, type ReconcileDeps, type ReconcileResult } from './reconcile.ts';

/** Ready reasons that are the normal course of a change: no Warning event for them. */
const UNEVENTFUL: ReadonlySet<string> = new Set([Reason.Creating, Reason.RollingOut, Reason.ScalingUp, Reason.CanaryProgressing, Reason.CanaryPaused, Reason.Promoting]);

/** Each slot's revision, model, size and share of the traffic (its share of the ready pods). */
function revisions(pass: Pass): RevisionStatus[] {
  const slots = pass.plan?.slots ?? [];
  const deployments = slots.map((s) => ({ s, d: pass.observed.get(childKey('Deployment', s.name)) as V1Deployment | undefined }));
  const ready = deployments.reduce((n, { d }) => n + (d?.status?.readyReplicas ?? 0), 0);
  return deployments.map(({ s, d }) => {
    const model = servedModelFromTemplate(d?.spec?.template);
    const r: RevisionStatus = {
      revision: d?.metadata?.annotations?.[REVISION_ANNOTATION] ?? s.revision,
      role: s.role,
      deployment: s.name,
      replicas: d?.status?.replicas ?? 0,
      readyReplicas: d?.status?.readyReplicas ?? 0,
      trafficPercent: pass.routeWeights?.get(s.name) ?? (ready === 0 ? 0 : Math.round(((d?.status?.readyReplicas ?? 0) * 100) / ready)),
    };
    if (model.uri !== undefined) r.model = model.uri;
    if (model.version !== undefined) r.version = model.version;
    return r;
  });
}

export async function summarize(deps: ReconcileDeps, pass: Pass): Promise<ReconcileResult> {
  const { md, fields, name } = pass;
  const conflicts = pass.conflicts.map(({ kind, namespace, name: n }) => ({ kind, namespace, name: n }));
  if (pass.quiet === 'terminating') {
    deps.log.debug('Skipped a namespace that is being deleted', fields);
    return { conflicts: [] };
  }
  if (pass.quiet === 'aborted') return { conflicts };

  for (const done of ['Created', 'Updated', 'Deleted'] as const) {
    const these = pass.outcomes.filter((o) => o.done === done);
    if (these.length === 0) continue;
    const drift = these.flatMap((o) => (o.drift ?? []).map((p) => `${o.kind} ${p}`));
    const what = these.map((o) => (o.name === name ? o.kind : `${o.kind} ${o.name}`));
    const message = `${done} ${wordList(what)}${these.every((o) => o.name === name) ? ` ${name}` : ''}${done === 'Deleted' ? ': no longer wanted' : ''}${drift.length ? ` (${drift.slice(0, 5).join(', ')})` : ''}`;
    deps.event(md, 'Normal', Reason[done], message);
    deps.log.info(message, { ...fields, children: these.map((o) => `${o.kind}/${o.name}`), fields: drift.slice(0, 10) });
  }
  const p = pass.plan;
  if (p?.event && !pass.failure) {
    deps.event(md, p.event.type, p.event.reason, p.event.message);
    deps.log.info(p.event.message, { ...fields, reason: p.event.reason });
  }

  const valid = pass.valid;
  const desired = pass.desired;
  const stableName = p?.slots.find((s) => s.role === 'stable')?.name ?? name;
  const stable = pass.observed.get(childKey('Deployment', stableName)) as V1Deployment | undefined;
  const slotDeployments = (p?.slots ?? []).map((s) => pass.observed.get(childKey('Deployment', s.name)) as V1Deployment | undefined).filter((d): d is V1Deployment => d !== undefined);
  const sum = (f: (d: V1Deployment) => number | undefined) => slotDeployments.reduce((n, d) => n + (f(d) ?? 0), 0);
  const hpa = [...pass.observed.entries()].find(([k]) => k.startsWith('HorizontalPodAutoscaler/'))?.[1] as V2HorizontalPodAutoscaler | undefined;
  const replicaSets = deps.replicaSetsOf(pass.namespace, name);
  const stableRs = stable ? currentReplicaSet(stable, replicaSets)?.metadata?.name : undefined;
  const status = computeStatus({
    generation: pass.generation,
    previous: md.status,
    now: deps.now(),
    ...(pass.invalidSpec !== undefined ? { invalidSpec: pass.invalidSpec } : {}),
    ...(pass.failure !== undefined ? { failure: pass.failure } : {}),
    ...(valid && desired
      ? {
          desired: {
            model: servedModelFromTemplate(desired.deployment.spec?.template),
            selector: selectorString(valid),
            url: serviceUrl(valid, deps.config),
            ...(valid.spec.autoscaling ? { minReplicas: valid.spec.autoscaling.minReplicas ?? 1 } : {}),
          },
        }
      : {}),
    ...(stable ? { deployment: stable, stableModel: servedModelFromTemplate(stable.spec?.template) } : {}),
    ...(stableRs !== undefined ? { stableReplicaSet: stableRs } : {}),
    ...(hpa ? { hpa } : {}),
    replicaSets,
    pods: deps.podsOf(pass.namespace, name),
    ...(pass.revision !== undefined ? { revision: pass.revision } : {}),
    ...(p?.rollout ? { rollout: p.rollout } : md.status?.rollout && !p ? { rollout: md.status.rollout } : {}),
    ...(p?.stalled ? { rolloutStalled: p.stalled } : {}),
    ...(p ? { revisions: revisions(pass) } : {}),
    ...(slotDeployments.length > 1
      ? { totals: { replicas: sum((d) => d.status?.replicas), readyReplicas: sum((d) => d.status?.readyReplicas), availableReplicas: sum((d) => d.status?.availableReplicas), updatedReplicas: sum((d) => d.status?.updatedReplicas) } }
      : {}),
  });

  const before = md.status?.conditions?.find((c) => c.type === 'Ready');
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  if (!isDeepStrictEqual(status, md.status ?? {})) {
    try {
      await deps.patchStatus(md, status, pass.signal);
      deps.log.debug('Updated the status', { ...fields, generation: pass.generation, ready: ready?.status, reason: ready?.reason, message: ready?.message });
    } catch (err) {
      const c = classifyError(err);
      if (c.kind === 'aborted' || c.kind === 'terminating') return { conflicts };
      if (pass.retry === undefined) throw new ReconcileError(`Patching the status of ${pass.namespace}/${name} failed: ${errorText(err)}`, { cause: err });
    }
    // One event per scale of the autoscaler, when the status first records it.
    const scaled = scaleEvent(md.status?.autoscaling, status.autoscaling);
    if (scaled) deps.event(md, 'Normal', scaled.reason, scaled.message);
    // One event per change of what Ready says, not per pass.
    if (ready && (ready.reason !== before?.reason || ready.status !== before?.status)) {
      if (ready.status === 'True' && ready.reason === Reason.Ready) deps.event(md, 'Normal', Reason.Ready, ready.message);
      else if (!UNEVENTFUL.has(ready.reason) && ready.reason !== Reason.RolledBack) {
        deps.event(md, 'Warning', ready.reason, ready.message);
        deps.log.warn(ready.message, { ...fields, reason: ready.reason });
      }
    }
  }
  if (pass.retry?.kind === 'backoff') throw new ReconcileError(pass.retry.message);
  const after = [pass.retry?.kind === 'after' ? pass.retry.ms : undefined, p?.requeueAfterMs].filter((x): x is number => x !== undefined);
  return after.length > 0 ? { requeueAfterMs: Math.min(...after), conflicts } : { conflicts };
}

