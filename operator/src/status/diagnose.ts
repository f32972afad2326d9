// Pure: why a model is not fully serving, in words a user acts on, from the Deployment, its
// ReplicaSets and their pods as the caches hold them. The caches keep only what this file reads
// (podForCache, replicaSetForCache), so watching every pod of every model stays cheap.
import type { V1ContainerStatus, V1Deployment, V1Pod, V1PodCondition, V1ReplicaSet } from '@kubernetes/client-node';
import { FETCHER_CONTAINER } from '../render/model-source.ts';
import { CRASH_LOOP_RESTARTS, Reason } from './reasons.ts';
import { compareStrings } from '../order.ts';

export interface Diagnosis {
  reason: Reason;
  message: string;
  /** A person must act (kstatus: Failed); otherwise the cause may clear by itself. */
  stalled: boolean;
}

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const MAX_MESSAGE = 1000;

const IMAGE_PULL_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'ErrImageNeverPull', 'InvalidImageName', 'RegistryUnavailable', 'SignatureValidationFailed']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

// Most telling first: when pods fail in different ways, the status names the first of these.
const SEVERITY: readonly Reason[] = [
  Reason.ModelFetchFailed,
  Reason.CrashLoop,
  Reason.ContainerConfigError,
  Reason.ImagePullFailed,
  Reason.Unschedulable,
  Reason.NotReady,
];

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= MAX_MESSAGE ? one : `${one.slice(0, MAX_MESSAGE - 3)}...`;
}

function condition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

function exitText(t: { reason?: string; exitCode?: number } | undefined): string {
  if (!t) return '';
  const parts = [t.reason, t.exitCode !== undefined ? `exit code ${t.exitCode}` : undefined].filter((x) => x !== undefined && x !== '');
  return parts.join(', ');
}

/** A failed init container (the model fetcher, or one of the user's). */
function initProblem(c: V1ContainerStatus): Diagnosis | undefined {
  const waiting = c.state?.waiting?.reason;
  if (waiting !== undefined && IMAGE_PULL_REASONS.has(waiting)) return imagePull(c);
  const last = c.state?.terminated ?? c.lastState?.terminated;
  const failed = waiting === 'CrashLoopBackOff' || (last !== undefined && (last.exitCode ?? 0) !== 0);
  if (!failed) return undefined;
  const who = c.name === FETCHER_CONTAINER ? 'the model fetcher' : `init container ${c.name}`;
  const exit = exitText(last);
  const detail = last?.message ? `: ${last.message}` : '';
  return {
    reason: c.name === FETCHER_CONTAINER ? Reason.ModelFetchFailed : Reason.CrashLoop,
    message: `${who} failed${exit ? ` (${exit})` : ''}${detail}`,
    stalled: (c.restartCount ?? 0) >= CRASH_LOOP_RESTARTS,
  };
}

function imagePull(c: V1ContainerStatus): Diagnosis {
  const w = c.state?.waiting;
  return {
    reason: Reason.ImagePullFailed,
    message: `container ${c.name} cannot pull its image ${c.image ?? ''} (${w?.reason ?? 'ImagePullBackOff'})${w?.message ? `: ${w.message}` : ''}`,
    // A name that can never be pulled needs a person; a registry outage may pass.
    stalled: w?.reason === 'InvalidImageName',
  };
}

function containerProblem(c: V1ContainerStatus): Diagnosis | undefined {
  const waiting = c.state?.waiting;
  if (waiting?.reason !== undefined && IMAGE_PULL_REASONS.has(waiting.reason)) return imagePull(c);
  if (waiting?.reason !== undefined && CONFIG_REASONS.has(waiting.reason)) {
    return { reason: Reason.ContainerConfigError, message: `container ${c.name} cannot start (${waiting.reason})${waiting.message ? `: ${waiting.message}` : ''}`, stalled: true };
  }
  const last = c.state?.terminated ?? c.lastState?.terminated;
  const crashing = waiting?.reason === 'CrashLoopBackOff' || (c.state?.terminated !== undefined && (c.state.terminated.exitCode ?? 0) !== 0);
  if (!crashing) return undefined;
  const exit = exitText(last);
  const hint = last?.reason === 'OOMKilled' ? '; it ran out of memory: raise resources.limits.memory' : '';
  return {
    reason: Reason.CrashLoop,
    message: `container ${c.name} keeps crashing${exit ? ` (last exit: ${exit})` : ''}${last?.message ? `: ${last.message}` : ''}${hint}`,
    stalled: (c.restartCount ?? 0) >= CRASH_LOOP_RESTARTS,
  };
}

/** What keeps one pod from serving, or undefined when it serves or is still starting normally. */
export function podProblem(pod: V1Pod): Diagnosis | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  if (condition(pod, 'Ready')?.status === 'True') return undefined;
  for (const c of pod.status?.initContainerStatuses ?? []) {
    const p = initProblem(c);
    if (p) return p;
  }
  for (const c of pod.status?.containerStatuses ?? []) {
    const p = containerProblem(c);
    if (p) return p;
  }
  const scheduled = condition(pod, 'PodScheduled');
  if (scheduled?.status === 'False') {
    return { reason: Reason.Unschedulable, message: `cannot be scheduled${scheduled.message ? `: ${scheduled.message}` : ` (${scheduled.reason ?? 'Unschedulable'})`}`, stalled: false };
  }
  const running = pod.status?.phase === 'Running' && (pod.status.containerStatuses ?? []).length > 0 && (pod.status.containerStatuses ?? []).every((c) => c.state?.running !== undefined);
  if (running) {
    const notReady = (pod.status?.containerStatuses ?? []).filter((c) => !c.ready).map((c) => c.name);
    return { reason: Reason.NotReady, message: `is running but not ready: the readiness probe of ${notReady.join(', ') || 'its containers'} has not passed`, stalled: false };
  }
  return undefined;
}

function controllerUid(obj: { metadata?: { ownerReferences?: Array<{ uid: string; controller?: boolean }> } }): string | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller)?.uid;
}

/** The ReplicaSet of the Deployment's current revision, once the Deployment controller made it. */
export function currentReplicaSet(dep: V1Deployment, replicaSets: readonly V1ReplicaSet[]): V1ReplicaSet | undefined {
  const revision = dep.metadata?.annotations?.[REVISION_ANNOTATION];
  if (revision === undefined) return undefined;
  const uid = dep.metadata?.uid;
  return replicaSets.find((rs) => controllerUid(rs) === uid && rs.metadata?.annotations?.[REVISION_ANNOTATION] === revision);
}

export interface DiagnosisInput {
  deployment: V1Deployment;
  replicaSets: readonly V1ReplicaSet[];
  pods: readonly V1Pod[];
}

/** Pods refused at creation: the API server's words, as the Deployment (or ReplicaSet) carries them. */
function refusal(input: DiagnosisInput): Diagnosis | undefined {
  const depFailure = input.deployment.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const uid = input.deployment.metadata?.uid;
  const rs = input.replicaSets.find((r) => controllerUid(r) === uid && r.status?.conditions?.some((c) => c.type === 'ReplicaFailure' && c.status === 'True'));
  const rsFailure = rs?.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const failure = depFailure ?? rsFailure;
  if (!failure) return undefined;
  const where = rs?.metadata?.name ? `ReplicaSet ${rs.metadata.name}` : `Deployment ${input.deployment.metadata?.name ?? ''}`;
  return {
    reason: Reason.PodsRefused,
    message: clip(`The API server refuses to create pods for ${where} (${failure.reason ?? 'FailedCreate'}): ${failure.message ?? ''}`),
    stalled: true,
  };
}

/** The pod problem that tells most about why the model does not serve, or undefined. */
export function diagnose(input: DiagnosisInput): Diagnosis | undefined {
  const refused = refusal(input);
  if (refused) return refused;
  const rs = currentReplicaSet(input.deployment, input.replicaSets);
  const rsUid = rs?.metadata?.uid;
  // The pods of the current revision; before its ReplicaSet is known, every pod of the model.
  const pods = input.pods.filter((p) => rsUid === undefined || controllerUid(p) === rsUid);
  const problems = pods
    .map((pod) => ({ pod, problem: podProblem(pod) }))
    .filter((x): x is { pod: V1Pod; problem: Diagnosis } => x.problem !== undefined)
    .sort((a, b) => SEVERITY.indexOf(a.problem.reason) - SEVERITY.indexOf(b.problem.reason) || compareStrings(a.pod.metadata?.name ?? '', b.pod.metadata?.name ?? ''));
  const first = problems[0];
  if (!first) return undefined;
  const same = problems.filter((p) => p.problem.reason === first.problem.reason).length - 1;
  const more = same > 0 ? ` (and ${same} more pod${same === 1 ? '' : 's'})` : '';
  return {
    reason: first.problem.reason,
    message: clip(`Pod ${first.pod.metadata?.name ?? ''}${more} ${first.problem.message}`),
    stalled: problems.some((p) => p.problem.reason === first.problem.reason && p.problem.stalled),
  };
}

// What the caches keep: the fields read above, and the metadata to find owners. Dropping the rest
// (the pod spec above all) is what makes watching every pod affordable. Nothing here reads a spec
// but a ReplicaSet's replicas: the pod and ReplicaSet informers decode without the rest
// (kube/decode.ts, withoutSpec).

function pick<T extends object, K extends keyof T>(obj: T | undefined, keys: readonly K[]): Pick<T, K> | undefined {
  if (obj === undefined) return undefined;
  const out = {} as Pick<T, K>;
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function metaForCache(m: V1Pod['metadata']): V1Pod['metadata'] {
  return pick(m ?? {}, ['name', 'namespace', 'uid', 'resourceVersion', 'labels', 'ownerReferences', 'deletionTimestamp', 'creationTimestamp', 'generation']);
}

function containerForCache(c: V1ContainerStatus): V1ContainerStatus {
  const term = (t: { reason?: string; exitCode: number; message?: string } | undefined) => (t ? pick(t, ['reason', 'exitCode', 'message']) : undefined);
  const out: V1ContainerStatus = { name: c.name, image: c.image, imageID: '', ready: c.ready, restartCount: c.restartCount };
  const state: V1ContainerStatus['state'] = {};
  if (c.state?.waiting) state.waiting = pick(c.state.waiting, ['reason', 'message']);
  if (c.state?.running) state.running = {};
  if (c.state?.terminated) state.terminated = term(c.state.terminated) as typeof state.terminated;
  out.state = state;
  if (c.lastState?.terminated) out.lastState = { terminated: term(c.lastState.terminated) as NonNullable<V1ContainerStatus['lastState']>['terminated'] };
  return out;
}

export function podForCache(pod: V1Pod): V1Pod {
  const st = pod.status ?? {};
  const status: V1Pod['status'] = {};
  if (st.phase !== undefined) status.phase = st.phase;
  const conditions = st.conditions?.filter((c) => c.type === 'Ready' || c.type === 'PodScheduled').map((c) => pick(c, ['type', 'status', 'reason', 'message']) as V1PodCondition);
  if (conditions?.length) status.conditions = conditions;
  if (st.containerStatuses?.length) status.containerStatuses = st.containerStatuses.map(containerForCache);
  if (st.initContainerStatuses?.length) status.initContainerStatuses = st.initContainerStatuses.map(containerForCache);
  return { apiVersion: pod.apiVersion, kind: pod.kind, metadata: metaForCache(pod.metadata), status };
}

export function replicaSetForCache(rs: V1ReplicaSet): V1ReplicaSet {
  const meta = metaForCache(rs.metadata) ?? {};
  const revision = rs.metadata?.annotations?.[REVISION_ANNOTATION];
  if (revision !== undefined) meta.annotations = { [REVISION_ANNOTATION]: revision };
  const st = rs.status;
  const status: V1ReplicaSet['status'] = st ? { ...pick(st, ['readyReplicas', 'availableReplicas', 'observedGeneration']), replicas: st.replicas } : undefined;
  if (status && st?.conditions?.length) status.conditions = st.conditions.map((c) => pick(c, ['type', 'status', 'reason', 'message']) as NonNullable<typeof st.conditions>[number]);
  const out: V1ReplicaSet = { apiVersion: rs.apiVersion, kind: rs.kind, metadata: meta };
  if (rs.spec?.replicas !== undefined) out.spec = { replicas: rs.spec.replicas, selector: {} };
  if (status) out.status = status;
  return out;
}
