// Pure: the autoscaler's view on the ModelDeployment's status, from its HorizontalPodAutoscaler:
// the replicas it has and wants, its last scale (when, up or down, from and to), and the HPA's
// conditions that say why it scales or does not. It changes only when the HPA scales or its
// reasons change. The live metric values (the HPA's status.currentMetrics) are never copied: the
// HPA refreshes them at every sync, so a copy would cost one status write per model per sync
// (1,000 models at the default 15 s: one write every 15 ms), at rest.
import type { V1Deployment, V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerCondition } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { AutoscalerCondition, AutoscalingStatus, LastScale, ServedModel } from '../api/types.ts';
import type { Rollout } from './compute.ts';
import { Reason } from './reasons.ts';

/** HPA conditions that explain a scale or its absence, in the order they are shown. */
const EXPLAINING = ['AbleToScale', 'ScalingLimited', 'ScalingActive'] as const;

/**
 * ScalingActive=True says which metric decided the count ("from cpu resource utilization"); with
 * two metrics near their targets that alternates between syncs, so it is shown only when not True:
 * then it says why nothing can be decided (no metrics yet, a bad selector).
 */
function explains(c: V2HorizontalPodAutoscalerCondition): boolean {
  return c.type === 'ScalingActive' ? c.status !== 'True' : (EXPLAINING as readonly string[]).includes(c.type);
}

/** client-node types times as Date; the operator's REST layer keeps the API server's string. */
function isoTime(t: Date | string | undefined): string | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? t.toISOString().replace('.000Z', 'Z') : t;
}

/**
 * The last scale. At the sync that scales, the HPA reports the size before as currentReplicas and
 * the new one as desiredReplicas; a pass that only sees a later version takes the size before from
 * the previous status. A scale already recorded keeps its record, so nothing changes at rest.
 */
export function lastScale(hpa: V2HorizontalPodAutoscaler, previous: AutoscalingStatus | undefined): LastScale | undefined {
  const st = hpa.status;
  const time = isoTime(st?.lastScaleTime);
  if (st === undefined || time === undefined) return undefined;
  if (previous?.lastScale?.time === time) return previous.lastScale;
  const to = st.desiredReplicas;
  const seenBefore = [st.currentReplicas, previous?.currentReplicas].find((n) => n !== undefined && n !== to);
  const out: LastScale = { time };
  if (to === undefined || seenBefore === undefined) return out;
  return { time, direction: to > seenBefore ? 'Up' : 'Down', from: seenBefore, to };
}

/** status.autoscaling from the HPA, or undefined when there is none (or it has no status yet). */
export function autoscalingStatus(hpa: V2HorizontalPodAutoscaler | undefined, previous: AutoscalingStatus | undefined): AutoscalingStatus | undefined {
  const st = hpa?.status;
  if (hpa === undefined || st === undefined) return undefined;
  const out: AutoscalingStatus = { currentReplicas: st.currentReplicas ?? 0, desiredReplicas: st.desiredReplicas ?? 0 };
  const last = lastScale(hpa, previous);
  if (last !== undefined) out.lastScale = last;
  const conditions: AutoscalerCondition[] = (st.conditions ?? [])
    .filter(explains)
    .sort((a, b) => EXPLAINING.indexOf(a.type as (typeof EXPLAINING)[number]) - EXPLAINING.indexOf(b.type as (typeof EXPLAINING)[number]))
    .map((c) => {
      const out: AutoscalerCondition = { type: c.type, status: c.status as AutoscalerCondition['status'] };
      if (c.reason) out.reason = c.reason;
      if (c.message) out.message = c.message;
      return out;
    });
  if (conditions.length > 0) out.conditions = conditions;
  return out;
}

/**
 * The Event for a scale the status records for the first time: ScaledUp or ScaledDown, or nothing.
 * Not for the first status that has an autoscaler view (an operator upgrade, a new model's first
 * scale to its minimum): that scale may be long past.
 */
export function scaleEvent(previous: AutoscalingStatus | undefined, next: AutoscalingStatus | undefined): { reason: Reason; message: string } | undefined {
  const last = next?.lastScale;
  if (previous === undefined || last?.direction === undefined || previous.lastScale?.time === last.time) return undefined;
  const limited = next?.conditions?.find((c) => c.type === 'ScalingLimited' && c.status === 'True');
  return {
    reason: last.direction === 'Up' ? Reason.ScaledUp : Reason.ScaledDown,
    message: `The HorizontalPodAutoscaler scaled from ${last.from} to ${last.to} replicas${limited?.reason ? ` (limited: ${limited.reason})` : ''}`,
  };
}

/**
 * Under an HPA, replicas that are missing while every pod is already on the current template, and
 * the model was already rolled out, are the autoscaler's scale-up, not a rollout: ScalingUp says
 * so (still not Ready, as kstatus judges a Deployment that scales). The diagnosis of the new pods
 * (Unschedulable, say) follows as for a rollout.
 */
export function scalingNotRolling(rollout: Rollout, dep: V1Deployment, hpa: V2HorizontalPodAutoscaler | undefined, wanted: ServedModel, served: ServedModel | undefined): Rollout {
  if (hpa === undefined || rollout.complete || rollout.reason !== Reason.RollingOut || !isDeepStrictEqual(served, wanted)) return rollout;
  const st = dep.status ?? {};
  const onTemplate = (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0) && (st.updatedReplicas ?? 0) === (st.replicas ?? 0);
  if (!onTemplate) return rollout;
  const available = Math.min(st.readyReplicas ?? 0, st.availableReplicas ?? 0);
  const want = dep.spec?.replicas ?? 1;
  return { ...rollout, reason: Reason.ScalingUp, message: `Scaling up to ${want} replicas for the HorizontalPodAutoscaler: ${available} of ${want} are available` };
}
