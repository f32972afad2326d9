// Pure: the rollout of a new revision. From the spec, the Deployments that exist (their role,
// revision and state), the diagnosis of their pods, the last status and the person's annotations,
// decide which Deployments must exist with how many replicas, and what the status says. Called on
// every reconcile: everything it needs is in the status and the children, never in memory, so a
// restarted operator or a new leader resumes where the last one was.
//
// Without a mesh, traffic follows ready replicas (the Service selects every slot's pods):
// with N replicas and a canary weight w, the canary gets round(N·w/100) replicas (at least 1) and
// the stable slot the rest. Under an HPA the stable slot's size is the HPA's, so the canary is added
// beside it: round(S·w/(100−w)) replicas for a stable size S. The Service must never select zero
// ready pods: with a surge allowed the canary's pods are ready before the stable slot shrinks;
// with maxSurge 0 (GPU pods) a stable pod is taken away before a canary pod is added, which needs
// at least two replicas (validation says so).
import type { RolloutPhase, RolloutStatus, RolloutStrategy } from '../api/types.ts';
import type { Diagnosis } from '../status/diagnose.ts';
import { Reason } from '../status/reasons.ts';
import { slotName, type Role } from './slots.ts';

/** Annotations a person sets on the ModelDeployment (GitOps tools leave fields they do not manage alone). */
export const PROMOTE_ANNOTATION = 'serving.modelship.dev/promote';
export const ABORT_ANNOTATION = 'serving.modelship.dev/abort';

/** How a Deployment that exists looks to the planner. */
export interface Slot {
  name: string;
  /** The slot label; undefined for the legacy Deployment named like the ModelDeployment. */
  slot?: string;
  role: Role;
  /** Its revision annotation; undefined on a Deployment written before revisions existed. */
  revision?: string;
  specReplicas: number;
  replicas: number;
  readyReplicas: number;
  /** Its current pods are all of its current template (rolled out), observed by its controller. */
  rolledOut: boolean;
  deadlineExceeded: boolean;
  /** Why its current pods do not serve, if they do not. */
  problem?: Diagnosis;
  /** The ReplicaSet of its current template, once known. */
  replicaSet?: string;
}

export interface Step {
  weight: number;
  pauseMs?: number;
}

export interface RolloutSettings {
  strategy: RolloutStrategy;
  steps: readonly Step[];
  readyTimeoutMs: number;
  autoRollback: boolean;
  /** maxSurge resolves to 0 (GPU pods by default): never more pods than the spec allows. */
  noSurge: boolean;
  /** Fixed size; undefined when an HPA owns the stable slot's size. */
  replicas: number | undefined;
  /** Traffic is split by HTTPRoute weights: every slot needs a Service of its own, so a slot label. */
  routed?: boolean;
}

export interface PlanInput {
  mdName: string;
  revision: string;
  settings: RolloutSettings;
  slots: readonly Slot[];
  previous: RolloutStatus | undefined;
  annotations: Readonly<Record<string, string>>;
  now: Date;
  /** RollingUpdate with autoRollback: the ReplicaSet of the last fully serving revision, if still there. */
  restoreTarget?: string;
}

/** A Deployment that must exist after this pass. */
export interface SlotPlan {
  name: string;
  slot?: string;
  role: Role;
  /** desired: the spec's template (the main apply). unchanged: leave its template, set replicas only. */
  template: 'desired' | 'unchanged';
  revision: string;
  /** undefined: the HPA owns the size. */
  replicas: number | undefined;
}

export interface Plan {
  slots: SlotPlan[];
  /** Deployments to delete (their pods go with them). */
  remove: string[];
  /** The Deployment the HPA scales. */
  hpaTarget: string;
  /** Undefined for a ModelDeployment that never rolled out a second revision. */
  rollout?: RolloutStatus;
  /** RollingUpdate with autoRollback: put this ReplicaSet's template back on the Deployment. */
  restoreFrom?: { deployment: string; replicaSet: string };
  /** Come back after this long (a timed pause, a ready timeout). */
  requeueAfterMs?: number;
  /** What happened in this pass, for an Event. */
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
  /** The canary failed and autoRollback is off: the status says Stalled with this. */
  stalled?: { reason: string; message: string };
}

/** Diagnosis reasons that fail a canary at once: its pods will not serve without a change. */
const FAILING: ReadonlySet<string> = new Set([Reason.CrashLoop, Reason.ImagePullFailed, Reason.ModelFetchFailed, Reason.ContainerConfigError, Reason.PodsRefused]);

function iso(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Canary and stable replicas for a weight, with N fixed replicas (or S stable replicas under an HPA). */
export function split(weight: number, settings: RolloutSettings, stableSize: number): { canary: number; stable: number | undefined } {
  if (settings.replicas === undefined) {
    if (weight >= 100) return { canary: stableSize, stable: undefined };
    if (stableSize <= 0) return { canary: 1, stable: undefined };
    return { canary: Math.max(1, Math.round((stableSize * weight) / (100 - weight))), stable: undefined };
  }
  const n = settings.replicas;
  if (weight >= 100) return { canary: n, stable: 0 };
  // One replica: the canary surges one pod beside it (validation refuses this without a surge).
  if (n <= 1) return { canary: 1, stable: n };
  const canary = Math.min(n - 1, Math.max(1, Math.round((n * weight) / 100)));
  return { canary, stable: n - canary };
}

/** Why a canary (or a rolling update under autoRollback) has failed, in the order the issue checks them. */
export function failureOf(slot: Slot, stepStartedAt: string | undefined, readyTimeoutMs: number, want: number, now: Date): { reason: string; message: string } | undefined {
  if (slot.problem && FAILING.has(slot.problem.reason)) return { reason: slot.problem.reason, message: slot.problem.message };
  if (slot.deadlineExceeded) return { reason: Reason.ProgressDeadlineExceeded, message: `Deployment ${slot.name} made no progress before its deadline${slot.problem ? `. ${slot.problem.message}` : ''}` };
  if (stepStartedAt !== undefined && slot.readyReplicas < want && now.getTime() - Date.parse(stepStartedAt) >= readyTimeoutMs) {
    return {
      reason: 'ReadyTimeout',
      message: `${slot.readyReplicas} of ${want} canary replicas were ready after the ready timeout of ${Math.round(readyTimeoutMs / 1000)} s${slot.problem ? `. ${slot.problem.message}` : ''}`,
    };
  }
  return undefined;
}

function status(prev: RolloutStatus | undefined, fields: RolloutStatus): RolloutStatus {
  const out: RolloutStatus = { ...fields };
  // A status that did not change keeps its times, so a pass that changes nothing writes nothing.
  if (prev !== undefined && prev.revision === out.revision && prev.step === out.step && prev.stepStartedAt !== undefined && out.stepStartedAt !== undefined) out.stepStartedAt = prev.stepStartedAt;
  for (const k of Object.keys(out) as (keyof RolloutStatus)[]) if (out[k] === undefined) delete out[k];
  return out;
}

function stableSlot(input: PlanInput): Slot | undefined {
  return input.slots.find((s) => s.role === 'stable') ?? input.slots.find((s) => s.slot === undefined);
}

/** The plan for this pass. */
export function plan(input: PlanInput): Plan {
  const stable = stableSlot(input);
  // A new ModelDeployment: one Deployment, named like it (with HTTPRoute weights, a slot of its own
  // from the start, so that a Service can select it alone). Its first revision is no canary.
  if (!stable) {
    const name = input.settings.routed ? slotName(input.mdName, input.revision) : input.mdName;
    return { slots: [{ name, ...(input.settings.routed ? { slot: input.revision } : {}), role: 'stable', template: 'desired', revision: input.revision, replicas: input.settings.replicas }], remove: [], hpaTarget: name };
  }
  const others = input.slots.filter((s) => s !== stable);
  return input.settings.strategy === 'RollingUpdate' ? planRollingUpdate(input, stable, others) : planCanary(input, stable, others);
}

function slotOf(s: Slot, role: Role, template: SlotPlan['template'], revision: string, replicas: number | undefined): SlotPlan {
  return { name: s.name, ...(s.slot ? { slot: s.slot } : {}), role, template, revision, replicas };
}

/**
 * RollingUpdate: the stable slot takes the new template in place (a canary left from an earlier
 * strategy goes). With autoRollback, a failure of the new revision puts back the template of the
 * ReplicaSet that last served every replica, as `kubectl rollout undo` does, and the spec's
 * revision is not tried again until the spec changes.
 */
function planRollingUpdate(input: PlanInput, stable: Slot, others: readonly Slot[]): Plan {
  const { settings, revision, previous, now } = input;
  const base = { remove: others.map((s) => s.name), hpaTarget: stable.name };
  const inPlace: SlotPlan = slotOf(stable, 'stable', 'desired', revision, settings.replicas);
  if (!settings.autoRollback) return { ...base, slots: [inPlace] };
  if (previous?.phase === 'RolledBack' && previous.revision === revision) {
    return { ...base, slots: [slotOf(stable, 'stable', 'unchanged', stable.revision ?? revision, settings.replicas)], rollout: status(previous, { ...previous }) };
  }
  const lastGood = previous?.phase === 'Completed' || previous?.phase === undefined ? (previous?.stableRevision ?? previous?.revision) : previous.stableRevision;
  const done = stable.revision === revision && stable.rolledOut && stable.readyReplicas >= stable.specReplicas;
  if (done) {
    return { ...base, slots: [inPlace], rollout: status(previous, { strategy: 'RollingUpdate', phase: 'Completed', revision, stableRevision: revision, reason: 'RolledOut', message: `Revision ${revision} serves every replica` }) };
  }
  const started = previous?.revision === revision && previous.stepStartedAt ? previous.stepStartedAt : iso(now);
  // Its pods are judged once the Deployment runs the new template (the caller diagnoses only then).
  const failure = stable.revision === revision ? failureOf(stable, undefined, settings.readyTimeoutMs, stable.specReplicas, now) : undefined;
  if (failure && lastGood !== undefined && lastGood !== revision && input.restoreTarget) {
    return {
      ...base,
      slots: [slotOf(stable, 'stable', 'unchanged', lastGood, settings.replicas)],
      restoreFrom: { deployment: stable.name, replicaSet: input.restoreTarget },
      rollout: status(previous, { strategy: 'RollingUpdate', phase: 'RolledBack', revision, stableRevision: lastGood, stepStartedAt: started, reason: failure.reason, message: `Rolled back to revision ${lastGood}: ${failure.message}` }),
      event: { type: 'Warning', reason: 'RolledBack', message: `Rolled back ${input.mdName} from revision ${revision} to ${lastGood}: ${failure.message}` },
    };
  }
  return {
    ...base,
    slots: [inPlace],
    rollout: status(previous, { strategy: 'RollingUpdate', phase: 'Progressing', revision, ...(lastGood ? { stableRevision: lastGood } : {}), stepStartedAt: started, reason: Reason.RollingOut, message: `Rolling out revision ${revision}` }),
  };
}

function planCanary(input: PlanInput, stable: Slot, others: readonly Slot[]): Plan {
  const { settings, revision, previous, now, mdName } = input;
  // The stable slot runs the spec (a Deployment written before revisions existed counts as doing
  // so: this apply labels it): one Deployment, and any canary goes.
  if (stable.revision === undefined || stable.revision === revision) {
    const single: Plan = { slots: [slotOf(stable, 'stable', 'desired', revision, settings.replicas)], remove: others.map((s) => s.name), hpaTarget: stable.name };
    if (!previous || previous.phase === 'Completed') return previous ? { ...single, rollout: status(previous, { ...previous, strategy: 'Canary' }) } : single;
    const message = previous.phase === 'RolledBack' ? `The spec is back to revision ${revision}, which serves` : `The spec is back to revision ${revision}, which serves: the canary was removed`;
    return {
      ...single,
      rollout: status(previous, { strategy: 'Canary', phase: 'Completed', revision, stableRevision: revision, reason: 'SpecReverted', message }),
      ...(previous.phase !== 'RolledBack' ? { event: { type: 'Normal' as const, reason: 'CanaryRemoved', message } } : {}),
    };
  }
  const steps = settings.steps;
  const stableRevision = stable.revision ?? revision;
  const canary = others.find((s) => s.role === 'canary' && s.revision === revision);
  const stale = others.filter((s) => s !== canary);
  const fullSize = settings.replicas;
  const keepStable = (replicas: number | undefined): SlotPlan => ({ name: stable.name, ...(stable.slot ? { slot: stable.slot } : {}), role: 'stable', template: 'unchanged', revision: stableRevision, replicas });
  const base = (rollout: RolloutStatus): RolloutStatus => status(previous, { strategy: 'Canary', stableRevision, revision, ...rollout });

  // Back to the stable slot alone: it returns to full size first, then the canary goes; with no
  // surge allowed the canary's pods (and GPUs) go first instead. The Service keeps the stable
  // slot's ready pods throughout.
  const restore = (): Pick<Plan, 'slots' | 'remove' | 'hpaTarget'> => {
    const stableReady = fullSize === undefined || (stable.readyReplicas >= fullSize && stable.specReplicas === fullSize);
    const removeCanary = settings.noSurge || stableReady || !canary;
    const slots = [keepStable(fullSize)];
    if (canary && !removeCanary) slots.push({ name: canary.name, ...(canary.slot ? { slot: canary.slot } : {}), role: 'canary', template: 'desired', revision, replicas: canary.specReplicas });
    return { slots, remove: [...stale.map((s) => s.name), ...(canary && removeCanary ? [canary.name] : [])], hpaTarget: stable.name };
  };

  // Rolled back (or aborted) earlier, and the spec has not changed since: it is not tried again.
  if (previous?.phase === 'RolledBack' && previous.revision === revision) return { ...restore(), rollout: status(previous, { ...previous }) };

  const rollBack = (reason: string, message: string, how: 'RolledBack' | 'Aborted'): Plan => ({
    ...restore(),
    rollout: base({ phase: 'RolledBack', reason, message: `${how === 'Aborted' ? 'Aborted' : 'Rolled back'}: ${message}`, weight: 0 }),
    event: { type: 'Warning', reason: how, message: `${how === 'Aborted' ? 'Aborted' : 'Rolled back'} the canary of revision ${revision}; revision ${stableRevision} serves: ${message}` },
  });

  if (input.annotations[ABORT_ANNOTATION] === revision) return rollBack('Aborted', 'a person asked for it (annotation serving.modelship.dev/abort)', 'Aborted');

  // Where are we? A canary of another revision (the spec changed mid-canary) starts over.
  const sameRun = canary !== undefined && previous?.revision === revision && previous.phase !== 'Completed';
  let step = sameRun ? (previous?.step ?? 0) : 0;
  let stepStartedAt = sameRun ? (previous?.stepStartedAt ?? iso(now)) : iso(now);
  let stepReadyAt = sameRun ? previous?.stepReadyAt : undefined;
  const promote = input.annotations[PROMOTE_ANNOTATION];
  if (promote === revision) step = steps.length;
  const stableSize = fullSize ?? stable.specReplicas;
  const canaryName = canary?.name ?? slotName(mdName, revision);
  const canarySlot = canary?.slot ?? revision;
  const canaryPlan = (replicas: number): SlotPlan => ({ name: canaryName, slot: canarySlot, role: 'canary', template: 'desired', revision, replicas });

  // The canary's pods fail: roll back (or stop, without autoRollback).
  if (canary) {
    const want = step >= steps.length ? stableSize : split(steps[step]?.weight ?? 100, settings, stableSize).canary;
    const failure = failureOf(canary, stepStartedAt, settings.readyTimeoutMs, Math.min(want, canary.specReplicas), now);
    if (failure) {
      if (settings.autoRollback) return rollBack(failure.reason, failure.message, 'RolledBack');
      const held = split(steps[Math.min(step, steps.length - 1)]?.weight ?? 0, settings, stableSize);
      return {
        slots: [keepStable(held.stable), canaryPlan(canary.specReplicas)],
        remove: stale.map((s) => s.name),
        hpaTarget: stable.name,
        rollout: base({ phase: 'Progressing', step, weight: steps[step]?.weight ?? 100, stepStartedAt, reason: failure.reason, message: `The canary fails and autoRollback is off: ${failure.message}` }),
        stalled: { reason: failure.reason, message: `The canary of revision ${revision} fails: ${failure.message}. Fix the spec, or abort with the annotation ${ABORT_ANNOTATION}=${revision}` },
      };
    }
  }

  // Promotion: the canary takes every replica, then becomes the stable slot; the old one goes.
  if (step >= steps.length) {
    const target = stableSize;
    const canaryReady = (canary?.readyReplicas ?? 0) >= target && (canary?.specReplicas ?? 0) === target;
    const stableGone = fullSize === undefined || stable.replicas === 0;
    if (canary && canaryReady && stableGone) {
      return {
        slots: [{ name: canary.name, ...(canary.slot ? { slot: canary.slot } : {}), role: 'stable', template: 'desired', revision, replicas: fullSize }],
        remove: [stable.name, ...stale.map((s) => s.name)],
        hpaTarget: canary.name,
        rollout: status(previous, { strategy: 'Canary', phase: 'Completed', revision, stableRevision: revision, reason: 'Promoted', message: `Promoted revision ${revision}: it serves every replica` }),
        event: { type: 'Normal', reason: 'Promoted', message: `Promoted the canary of revision ${revision} (Deployment ${canary.name}); it serves every replica` },
      };
    }
    const order = ordered(settings, target, fullSize === undefined ? undefined : 0, canary, stable);
    return {
      slots: [keepStable(order.stable), canaryPlan(order.canary)],
      remove: stale.map((s) => s.name),
      hpaTarget: stable.name,
      rollout: base({ phase: 'Promoting', step: steps.length, weight: 100, stepStartedAt, reason: 'Promoting', message: `Promoting revision ${revision}: ${canary?.readyReplicas ?? 0} of ${target} replicas ready` }),
      ...(previous?.phase !== 'Promoting' ? { event: { type: 'Normal' as const, reason: 'Promoting', message: `Promoting the canary of revision ${revision}${promote === revision ? ' (promoted by a person)' : ''}` } } : {}),
    };
  }

  const weight = (steps[step] as Step).weight;
  const want = split(weight, settings, stableSize);
  const order = ordered(settings, want.canary, want.stable, canary, stable);
  const settled = canary !== undefined && canary.specReplicas === want.canary && canary.readyReplicas >= want.canary && (want.stable === undefined || (stable.specReplicas === want.stable && stable.replicas === want.stable));
  const slotsNow = [keepStable(order.stable), canaryPlan(order.canary)];
  const startEvent = !sameRun ? { event: { type: 'Normal' as const, reason: 'CanaryStarted', message: `Started a canary of revision ${revision} (Deployment ${canaryName}) at ${weight}% of the traffic` } } : {};
  if (!settled) {
    const remaining = Date.parse(stepStartedAt) + settings.readyTimeoutMs - now.getTime();
    return {
      slots: slotsNow,
      remove: stale.map((s) => s.name),
      hpaTarget: stable.name,
      rollout: base({ phase: 'Progressing', step, weight, stepStartedAt, reason: 'CanaryProgressing', message: `Canary of revision ${revision} at step ${step + 1} of ${steps.length} (${weight}%): ${canary?.readyReplicas ?? 0} of ${want.canary} replicas ready` }),
      requeueAfterMs: Math.max(1000, remaining),
      ...startEvent,
    };
  }
  stepReadyAt ??= iso(now);
  const pause = (steps[step] as Step).pauseMs;
  // A person may release this step's pause, timed or not, with promote=REVISION/STEP.
  const released = promote === `${revision}/${step}`;
  const manual = pause === undefined && !released;
  const waited = now.getTime() - Date.parse(stepReadyAt);
  if (manual || (pause !== undefined && !released && waited < pause)) {
    const message = manual
      ? `Canary of revision ${revision} holds ${weight}% of the traffic and waits for a person: kubectl annotate mdep ${mdName} ${PROMOTE_ANNOTATION}=${revision}/${step} --overwrite (this step) or =${revision} (all of it)`
      : `Canary of revision ${revision} holds ${weight}% of the traffic; step ${step + 1} of ${steps.length} ends in ${Math.ceil(((pause as number) - waited) / 1000)} s`;
    return {
      slots: slotsNow,
      remove: stale.map((s) => s.name),
      hpaTarget: stable.name,
      rollout: base({ phase: 'Paused', step, weight, stepStartedAt, stepReadyAt, reason: manual ? 'WaitingForPromotion' : 'Pausing', message: manual ? message : `Canary of revision ${revision} holds ${weight}% of the traffic for ${Math.round((pause as number) / 1000)} s (step ${step + 1} of ${steps.length})` }),
      ...(manual ? {} : { requeueAfterMs: Math.max(1000, (pause as number) - waited) }),
      ...(previous?.phase !== 'Paused' || previous.step !== step ? { event: { type: 'Normal' as const, reason: 'CanaryStep', message: `The canary of revision ${revision} serves ${weight}% of the traffic (step ${step + 1} of ${steps.length})` } } : {}),
      ...startEvent,
    };
  }
  // The step is over: on to the next one (or the promotion) in this same pass.
  return plan({ ...input, previous: base({ phase: 'Progressing', step: step + 1, stepStartedAt: iso(now), weight: steps[step + 1]?.weight ?? 100 }) });
}

/**
 * The replicas of each slot on the way to (canary, stable), never leaving the Service without
 * ready pods: with a surge allowed, the stable slot shrinks only once the canary's pods are ready;
 * with none allowed, the stable slot shrinks first and the canary grows into the room it left.
 */
function ordered(settings: RolloutSettings, canaryWant: number, stableWant: number | undefined, canary: Slot | undefined, stable: Slot): { canary: number; stable: number | undefined } {
  if (stableWant === undefined) return { canary: canaryWant, stable: undefined };
  const canaryNow = canary?.specReplicas ?? 0;
  if (settings.noSurge) {
    const roomNow = (settings.replicas ?? 0) - stable.replicas;
    return { canary: canaryWant > canaryNow ? Math.min(canaryWant, Math.max(canaryNow, roomNow)) : canaryWant, stable: stableWant };
  }
  const canaryReady = (canary?.readyReplicas ?? 0) >= canaryWant && canaryNow === canaryWant;
  return { canary: canaryWant, stable: canaryReady ? stableWant : Math.max(stableWant, stable.specReplicas) };
}
