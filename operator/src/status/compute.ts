// Pure: what the ModelDeployment's status should say, from what one reconcile pass saw and wrote.
// The children given here are as they are AFTER the pass: the objects the API server returned for
// this pass's writes, the cache for the rest. So a change the pass just made is never reported as
// settled on the strength of an older copy (a Deployment that has not yet seen its new template).
// Conditions follow metav1.Condition and kstatus (Ready summary, Reconciling and Stalled as
// abnormal-true), so `kubectl wait`, Flux and Argo CD read the truth.
import type { V1Deployment, V1Pod, V1ReplicaSet, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { Condition, HistoryEntry, ModelDeploymentStatus, RevisionStatus, RolloutStatus, ServedModel } from '../api/types.ts';
import { servedModelFromTemplate } from '../render/labels.ts';
import { autoscalingStatus, scalingNotRolling } from './autoscaling.ts';
import { diagnose, type Diagnosis } from './diagnose.ts';
import { Reason } from './reasons.ts';

export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  Available: 'Available',
  Progressing: 'Progressing',
} as const;

/** Why a pass could not bring a child in shape. */
export interface SyncFailure {
  reason: typeof Reason.ChildConflict | typeof Reason.ApplyRefused | typeof Reason.ApplyFailed;
  message: string;
}

export interface StatusInput {
  generation: number;
  previous: ModelDeploymentStatus | undefined;
  now: Date;
  /** The spec failed validation: a message that names the fields. */
  invalidSpec?: string;
  /** Children the pass could not bring in shape, most serious first. */
  failure?: SyncFailure;
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
  /** The Deployment's ReplicaSets and the model's pods, for the diagnosis. */
  replicaSets?: readonly V1ReplicaSet[];
  pods?: readonly V1Pod[];
  /** The rollout of a new revision, as the planner left it (rollout/plan.ts). */
  rollout?: RolloutStatus;
  /** The spec's revision. */
  revision?: string;
  /** The canary fails and autoRollback is off: a person must act. */
  rolloutStalled?: { reason: string; message: string };
  /** The revisions being served, each in its Deployment. */
  revisions?: RevisionStatus[];
  /** The model the stable slot runs, when it is not the spec's (after a rollback). */
  stableModel?: ServedModel;
  /** The ReplicaSet of the stable slot's current template (a later rollback restores it). */
  stableReplicaSet?: string;
  /** Sums over every slot (the stable Deployment, and a canary's). */
  totals?: { replicas: number; readyReplicas: number; availableReplicas: number; updatedReplicas: number };
}

/** How many revisions the history keeps. */
export const HISTORY_LENGTH = 5;

type Cond = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

function cond(type: string, ok: boolean | 'Unknown', reason: string, message: string): Cond {
  return { type, status: ok === 'Unknown' ? 'Unknown' : ok ? 'True' : 'False', reason, message };
}

export interface Rollout {
  complete: boolean;
  /** Why not, when not complete. */
  reason: Reason;
  message: string;
  stalled: boolean;
}

/**
 * Whether the Deployment serves the template we want, fully: it has observed its latest
 * generation, and updated = ready = available = desired with no old pods left (what
 * `kubectl rollout status` waits for). A ProgressDeadlineExceeded counts only once the Deployment
 * has observed its latest generation, so an old rollout's failure is never the new one's.
 */
export function rolloutState(dep: V1Deployment, model: ServedModel, minReplicas = 0): Rollout {
  const st = dep.status ?? {};
  const pending = (reason: Reason, message: string): Rollout => ({ complete: false, reason, message, stalled: false });
  if (!isDeepStrictEqual(servedModelFromTemplate(dep.spec?.template), model)) {
    return pending(Reason.RollingOut, `Waiting for the Deployment to take ${model.uri}`);
  }
  const generation = dep.metadata?.generation ?? 0;
  if ((st.observedGeneration ?? 0) < generation) {
    return pending(Reason.RollingOut, `Waiting for the Deployment controller to start the rollout of generation ${generation}`);
  }
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    const seconds = dep.spec?.progressDeadlineSeconds;
    return {
      complete: false,
      reason: Reason.ProgressDeadlineExceeded,
      message: `The rollout of ${model.uri} made no progress ${seconds !== undefined ? `within ${seconds} s` : 'before its deadline'}`,
      stalled: true,
    };
  }
  const want = dep.spec?.replicas ?? 1;
  // A Deployment under an HPA starts at one replica until the HPA raises it to its minimum.
  if (want < minReplicas) return pending(Reason.ScalingUp, `Waiting for the HorizontalPodAutoscaler to scale to its minimum of ${minReplicas} replicas (now ${want})`);
  const updated = st.updatedReplicas ?? 0;
  const ready = st.readyReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const total = st.replicas ?? 0;
  if (updated < want) return pending(Reason.RollingOut, `Rolling out ${model.uri}: ${updated} of ${want} replicas updated`);
  if (total > updated) return pending(Reason.RollingOut, `Rolling out ${model.uri}: ${total - updated} old replicas are pending termination`);
  if (ready < want || available < want) return pending(Reason.RollingOut, `Rolling out ${model.uri}: ${Math.min(ready, available)} of ${want} replicas are available`);
  return { complete: true, reason: Reason.Ready, message: `Serving ${model.uri} with ${available} ready replicas`, stalled: false };
}

/** Our Available/Progressing conditions mirror the Deployment's. */
function mirror(type: string, dep: V1Deployment | undefined, absent: string): Cond {
  const c = dep?.status?.conditions?.find((x) => x.type === type);
  if (!c) return cond(type, 'Unknown', Reason.Creating, absent);
  return cond(type, c.status === 'True' ? true : c.status === 'False' ? false : 'Unknown', c.reason ?? 'Unknown', c.message ?? '');
}

/** The rollout, with the diagnosis of its pods folded in when it is not complete. */
function explain(rollout: Rollout, diagnosis: Diagnosis | undefined): Rollout {
  if (rollout.complete || !diagnosis) return rollout;
  const message = `${rollout.message}. ${diagnosis.message}`;
  // The deadline stays the reason (Flux and Argo CD know it); the diagnosis says what to fix.
  if (rollout.reason === Reason.ProgressDeadlineExceeded) return { ...rollout, message };
  return { complete: false, reason: diagnosis.reason, message, stalled: diagnosis.stalled };
}

function computeConditions(input: StatusInput, rollout: Rollout | undefined): Cond[] {
  const available = mirror(ConditionType.Available, input.deployment, 'The Deployment has not reported availability yet');
  const progressing = mirror(ConditionType.Progressing, input.deployment, 'The Deployment has not reported progress yet');

  const stalled = (reason: string, message: string): Cond[] => [
    cond(ConditionType.Ready, false, reason, message),
    cond(ConditionType.Reconciling, false, reason, 'Reconciling stopped: a person must act first (see Stalled)'),
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

  if (input.invalidSpec !== undefined) return stalled(Reason.InvalidSpec, input.invalidSpec);
  const f = input.failure;
  if (f !== undefined) return f.reason === Reason.ApplyFailed ? inProgress(f.reason, f.message) : stalled(f.reason, f.message);
  const ro = input.rollout;
  if (ro?.revision === input.revision && ro !== undefined) {
    if (ro.phase === 'RolledBack') {
      // The old revision serves (Ready), but the spec's revision failed: kstatus reads Failed for
      // this generation until the spec changes, so Flux and Argo CD report the failed update.
      const message = ro.message ?? `Rolled back from revision ${ro.revision}`;
      const serving = rollout?.complete === true;
      return [
        cond(ConditionType.Ready, serving, Reason.RolledBack, serving ? `${rollout?.message}. ${message}` : `${message}; revision ${ro.stableRevision ?? ''} is coming back to full size`),
        cond(ConditionType.Reconciling, false, Reason.RolledBack, 'Reconciling stopped: the spec\'s revision was rolled back; change the spec to try again'),
        cond(ConditionType.Stalled, true, Reason.RolledBack, message),
        available,
        progressing,
      ];
    }
    if (ro.strategy === 'Canary' && ro.phase !== 'Completed') {
      const reason = ro.phase === 'Paused' ? Reason.CanaryPaused : ro.phase === 'Promoting' ? Reason.Promoting : Reason.CanaryProgressing;
      const message = ro.message ?? `Canary of revision ${ro.revision}`;
      if (input.rolloutStalled) return stalled(input.rolloutStalled.reason, input.rolloutStalled.message);
      return inProgress(reason, message);
    }
  }
  if (!rollout) return inProgress(Reason.Creating, 'Creating the Deployment, Service and autoscaling objects');
  if (rollout.stalled) return stalled(rollout.reason, rollout.message);
  if (!rollout.complete) return inProgress(rollout.reason, rollout.message);
  return [
    cond(ConditionType.Ready, true, Reason.Ready, rollout.message),
    cond(ConditionType.Reconciling, false, Reason.Reconciled, 'The children match the spec'),
    cond(ConditionType.Stalled, false, Reason.NotStalled, 'Reconciliation is making progress'),
    available,
    progressing,
  ];
}

/** metav1.Time: RFC 3339 in whole seconds. */
function stampNow(now: Date): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Keeps lastTransitionTime when a condition's status did not change. */
function stamp(conds: Cond[], previous: Condition[] | undefined, generation: number, now: Date): Condition[] {
  const nowIso = stampNow(now);
  return conds.map((c) => {
    const prev = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : nowIso;
    return { ...c, observedGeneration: generation, lastTransitionTime };
  });
}

export function computeStatus(input: StatusInput): ModelDeploymentStatus {
  const { deployment: dep, desired, previous, hpa } = input;
  // After a rollback the stable slot serves another model than the spec's: judge it by its own.
  const rolledBack = input.rollout?.phase === 'RolledBack' && input.rollout.revision === input.revision;
  const model = rolledBack && input.stableModel ? input.stableModel : desired?.model;
  let rollout = dep && desired && model ? rolloutState(dep, model, desired.minReplicas) : undefined;
  if (rollout && dep && desired && model) rollout = scalingNotRolling(rollout, dep, hpa, model, previous?.model);
  // Diagnose pods only once the Deployment has observed the template: until then they are the old one's.
  if (rollout && dep && !rollout.complete && (dep.status?.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0)) {
    rollout = explain(rollout, diagnose({ deployment: dep, replicaSets: input.replicaSets ?? [], pods: input.pods ?? [] }));
  }
  const status: ModelDeploymentStatus = {
    observedGeneration: input.generation,
    conditions: stamp(computeConditions(input, rollout), previous?.conditions, input.generation, input.now),
    replicas: input.totals?.replicas ?? dep?.status?.replicas ?? 0,
    readyReplicas: input.totals?.readyReplicas ?? dep?.status?.readyReplicas ?? 0,
    availableReplicas: input.totals?.availableReplicas ?? dep?.status?.availableReplicas ?? 0,
    updatedReplicas: input.totals?.updatedReplicas ?? dep?.status?.updatedReplicas ?? 0,
  };
  const selector = desired?.selector ?? previous?.selector;
  if (selector !== undefined) status.selector = selector;
  const url = desired?.url ?? previous?.url;
  if (url !== undefined) status.url = url;
  // The model being served changes only once the new one is fully rolled out.
  const served = rollout?.complete && model ? model : previous?.model;
  if (served) status.model = { ...served };
  if (input.revisions && input.revisions.length > 0) status.revisions = input.revisions;
  if (input.rollout) status.rollout = input.rollout;
  // The history: revisions that served every desired replica, newest first.
  const history = [...(previous?.history ?? [])];
  const stableEntry = input.revisions?.find((r) => r.role === 'stable');
  if (rollout?.complete && stableEntry && !rolledBack && input.revision !== undefined && history[0]?.revision !== input.revision) {
    const entry: HistoryEntry = { revision: input.revision, deployment: stableEntry.deployment ?? '', servingSince: stampNow(input.now) };
    if (model?.uri !== undefined) entry.model = model.uri;
    if (model?.version !== undefined) entry.version = model.version;
    const rs = input.stableReplicaSet;
    if (rs !== undefined) entry.replicaSet = rs;
    history.unshift(entry);
  } else if (rollout?.complete && input.stableReplicaSet !== undefined && history[0] && history[0].revision === input.revision && history[0].replicaSet !== input.stableReplicaSet && !rolledBack) {
    history[0] = { ...history[0], replicaSet: input.stableReplicaSet };
  }
  if (history.length > 0) status.history = history.slice(0, HISTORY_LENGTH);
  const autoscaling = autoscalingStatus(hpa, previous?.autoscaling);
  if (autoscaling) status.autoscaling = autoscaling;
  return status;
}
