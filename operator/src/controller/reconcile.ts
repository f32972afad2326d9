// One reconcile of one ModelDeployment (fluxcd/source-controller's shape): an ordered list of steps
// with one signature, each naming the conditions it decides, then one summarize-and-patch of the
// status from what the pass saw and wrote. A pass that changes nothing makes no write call.
//
//   validate → render → ownership → sync children → summarize (status, events, requeue)
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject, V1Deployment, V1Pod, V1ReplicaSet, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import { formatFieldErrors, validateModelDeployment, type ValidModelDeployment } from '../api/validate.ts';
import { wordList } from '../api/schema.ts';
import type { EventType } from '../kube/events.ts';
import type { RenderConfig } from '../render/config.ts';
import { renderChildren, selectorString, servedModelFromTemplate, serviceUrl, type DesiredChildren } from '../render/index.ts';
import { scaleEvent } from '../status/autoscaling.ts';
import { computeStatus, type SyncFailure } from '../status/compute.ts';
import { Reason } from '../status/reasons.ts';
import { syncChildren, type ChildOutcome } from './children.ts';
import { classifyError, errorText, FORBIDDEN_RETRY_MS, ownershipOf } from './decisions.ts';

/** The children we own, in the order we apply them. */
export const CHILD_KINDS = [
  { kind: 'Deployment', apiVersion: 'apps/v1', field: 'deployment' },
  { kind: 'Service', apiVersion: 'v1', field: 'service' },
  { kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2', field: 'hpa' },
  { kind: 'PodDisruptionBudget', apiVersion: 'policy/v1', field: 'pdb' },
] as const satisfies readonly { kind: string; apiVersion: string; field: keyof DesiredChildren }[];

export type ChildKind = (typeof CHILD_KINDS)[number]['kind'];

export interface ApplyCall {
  /** Default "modelship". */
  fieldManager?: string;
  signal: AbortSignal;
}

/** What a reconcile needs from the world: read-only caches, a live read, writes, and a recorder. */
export interface ReconcileDeps {
  getModelDeployment(namespace: string, name: string): ModelDeployment | undefined;
  /** A child from the cache (only labelled children are cached). */
  getChild(kind: ChildKind, namespace: string, name: string): KubernetesObject | undefined;
  /** The model's ReplicaSets and pods from the cache, for the diagnosis. */
  replicaSetsOf(namespace: string, name: string): readonly V1ReplicaSet[];
  podsOf(namespace: string, name: string): readonly V1Pod[];
  /** A child read from the API server: what the label-filtered cache cannot see. */
  readChild(kind: ChildKind, namespace: string, name: string, signal: AbortSignal): Promise<KubernetesObject | undefined>;
  /** Server-side apply; returns the object as stored. */
  apply(obj: KubernetesObject, call: ApplyCall): Promise<KubernetesObject>;
  /**
   * Overwrites the object's spec with ours (a JSON merge patch, which replaces lists whole). For
   * drift that server-side apply alone cannot undo: another manager took over an item of a keyed
   * list (say, a Service port edited by hand), so our apply would add a second item beside it.
   */
  replaceSpec(obj: KubernetesObject, signal: AbortSignal): Promise<KubernetesObject>;
  deleteChild(kind: ChildKind, namespace: string, name: string, uid: string, signal: AbortSignal): Promise<void>;
  patchStatus(md: ModelDeployment, status: ModelDeploymentStatus, signal: AbortSignal): Promise<void>;
  event(md: ModelDeployment, type: EventType, reason: Reason, message: string): void;
  /**
   * Applies the API server refused for good (422, 400), by "namespace/name/kind": the same object
   * applied onto the same observed child is not sent again, so child events cannot turn a refusal
   * into a write loop. Any change (the spec, or the child) tries again.
   */
  refusals: Map<string, { fingerprint: string; error: unknown }>;
  log: { info(msg: string, fields?: object): void; warn(msg: string, fields?: object): void; debug(msg: string, fields?: object): void };
  config: RenderConfig;
  now(): Date;
}

/** A child of the ModelDeployment's name that another owner has: the controller watches it go away. */
export interface ConflictRef {
  kind: ChildKind;
  namespace: string;
  name: string;
}

export interface ReconcileResult {
  /** Run again after this long (a forbidden write, a 429's Retry-After). */
  requeueAfterMs?: number;
  /** Foreign objects that block this ModelDeployment; empty when none. */
  conflicts: ConflictRef[];
}

export class ReconcileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReconcileError';
  }
}

/** Everything one pass knows; the steps fill it in, summarize reads it. */
export interface Pass {
  readonly namespace: string;
  readonly name: string;
  /** A copy of the cached object: NEVER mutate the cache. */
  readonly md: ModelDeployment;
  readonly generation: number;
  readonly signal: AbortSignal;
  readonly fields: { namespace: string; name: string; kind: 'ModelDeployment' };
  valid?: ValidModelDeployment;
  invalidSpec?: string;
  desired?: DesiredChildren;
  /** The children as they are after this pass: what the server returned for our writes, else the cache. */
  observed: Partial<Record<ChildKind, KubernetesObject>>;
  conflicts: Array<ConflictRef & { message: string }>;
  outcomes: ChildOutcome[];
  failure?: SyncFailure;
  /** Set when the pass must end without writing anything more (lease lost, shutdown, namespace going). */
  quiet?: 'aborted' | 'terminating';
  retry?: { kind: 'backoff'; message: string } | { kind: 'after'; ms: number };
}

type Step = (deps: ReconcileDeps, pass: Pass) => Promise<'continue' | 'stop'>;

/** Sets InvalidSpec (Ready=False, Stalled=True) when the spec fails the operator's validation. */
const validate: Step = async (_deps, pass) => {
  const validation = validateModelDeployment(pass.md);
  if (!validation.ok) {
    pass.invalidSpec = `The spec is invalid: ${formatFieldErrors(validation.errors)}`;
    return 'stop';
  }
  pass.valid = validation.value;
  return 'continue';
};

/** Sets no condition: renders the desired children (pure). */
const render: Step = async (deps, pass) => {
  pass.desired = renderChildren(pass.valid as ValidModelDeployment, deps.config);
  return 'continue';
};

/**
 * Sets ChildConflict (Stalled=True) when an object of a child's name exists and this
 * ModelDeployment does not control it. The label-filtered cache cannot see an unlabelled object,
 * so a child missing from the cache is read from the API server before it is first created.
 */
const ownership: Step = async (deps, pass) => {
  const uid = pass.md.metadata?.uid ?? '';
  await Promise.all(
    CHILD_KINDS.map(async ({ kind, field }) => {
      const wanted = pass.desired?.[field] !== undefined;
      let have = deps.getChild(kind, pass.namespace, pass.name);
      if (!have && wanted) have = await deps.readChild(kind, pass.namespace, pass.name, pass.signal);
      const owner = ownershipOf(have, uid, kind);
      if (owner.kind === 'foreign') {
        // Unwanted and foreign: not ours to delete, and nothing is in the way.
        if (wanted) pass.conflicts.push({ kind, namespace: pass.namespace, name: pass.name, message: owner.message });
        return;
      }
      if (have) pass.observed[kind] = have;
    }),
  ).catch((err: unknown) => {
    pass.failure = failureOf(pass, err, 'Reading');
  });
  if (pass.failure || pass.quiet) return 'stop';
  if (pass.conflicts.length > 0) {
    pass.failure = { reason: Reason.ChildConflict, message: pass.conflicts.map((c) => c.message).join('; ') };
    return 'stop';
  }
  return 'continue';
};

/**
 * Sets ApplyFailed (Reconciling=True, retried) or ApplyRefused (Stalled=True) when a child cannot
 * be applied or deleted. Applies only the children that differ from what we want; what the API
 * server returns becomes the child as the status sees it.
 */
const sync: Step = async (deps, pass) => {
  pass.outcomes = await syncChildren(deps, pass);
  const failed = pass.outcomes.filter((o) => o.error !== undefined);
  for (const f of failed) {
    const failure = failureOf(pass, f.error, f.deleting ? 'Deleting' : 'Applying', f.kind);
    // The most serious failure wins: refused for good, then retried.
    if (!pass.failure || (pass.failure.reason === Reason.ApplyFailed && failure.reason !== Reason.ApplyFailed)) pass.failure = failure;
  }
  return 'continue';
};

/** Turns an error into the pass's failure, and decides how the key is retried. */
function failureOf(pass: Pass, err: unknown, verb: string, kind?: ChildKind): SyncFailure {
  const what = kind ? `${verb} ${kind} ${pass.name}` : `${verb} the children of ${pass.name}`;
  const c = classifyError(err);
  const message = `${what} failed: ${errorText(err)}`;
  switch (c.kind) {
    case 'aborted':
    case 'terminating':
      pass.quiet = c.kind;
      return { reason: Reason.ApplyFailed, message };
    case 'invalid':
      return { reason: Reason.ApplyRefused, message: `${message}. The API server refuses it; change the ModelDeployment` };
    case 'forbidden':
      pass.retry = { kind: 'after', ms: FORBIDDEN_RETRY_MS };
      return { reason: Reason.ApplyRefused, message: `${message}. Grant the operator this permission; it tries again every ${FORBIDDEN_RETRY_MS / 1000} s` };
    case 'transient':
      if (c.retryAfterMs !== undefined) pass.retry = { kind: 'after', ms: c.retryAfterMs };
      else if (pass.retry?.kind !== 'after') pass.retry = { kind: 'backoff', message };
      return { reason: Reason.ApplyFailed, message };
  }
}

const STEPS: readonly Step[] = [validate, render, ownership, sync];

/** Reconciles the ModelDeployment named by `key` ("namespace/name"). Throws to be retried with backoff. */
export async function reconcile(deps: ReconcileDeps, key: string, signal: AbortSignal = new AbortController().signal): Promise<ReconcileResult> {
  const slash = key.indexOf('/');
  const [namespace, name] = [key.slice(0, slash), key.slice(slash + 1)];
  const cached = deps.getModelDeployment(namespace, name);
  // Deleted: the garbage collector removes the children through their ownerReferences.
  if (!cached || cached.metadata?.deletionTimestamp) return { conflicts: [] };
  const md = structuredClone(cached);
  const pass: Pass = {
    namespace,
    name,
    md,
    generation: md.metadata?.generation ?? 0,
    signal,
    fields: { namespace, name, kind: 'ModelDeployment' },
    observed: {},
    conflicts: [],
    outcomes: [],
  };
  for (const step of STEPS) {
    if ((await step(deps, pass)) === 'stop') break;
  }
  return summarize(deps, pass);
}

/** The status from what the pass saw and wrote, patched once if it changed; the events; the requeue. */
async function summarize(deps: ReconcileDeps, pass: Pass): Promise<ReconcileResult> {
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
    const message = `${done} ${wordList(these.map((o) => o.kind))} ${name}${done === 'Deleted' ? ': no longer wanted by the spec' : ''}${drift.length ? ` (${drift.slice(0, 5).join(', ')})` : ''}`;
    deps.event(md, 'Normal', Reason[done], message);
    deps.log.info(message, { ...fields, children: these.map((o) => o.kind), fields: drift.slice(0, 10) });
  }

  const valid = pass.valid;
  const desired = pass.desired;
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
    ...(pass.observed.Deployment ? { deployment: pass.observed.Deployment as V1Deployment } : {}),
    ...(pass.observed.HorizontalPodAutoscaler ? { hpa: pass.observed.HorizontalPodAutoscaler as V2HorizontalPodAutoscaler } : {}),
    replicaSets: deps.replicaSetsOf(pass.namespace, name),
    pods: deps.podsOf(pass.namespace, name),
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
      if (ready.status === 'True') deps.event(md, 'Normal', Reason.Ready, ready.message);
      else if (ready.reason !== Reason.Creating && ready.reason !== Reason.RollingOut && ready.reason !== Reason.ScalingUp) {
        deps.event(md, 'Warning', ready.reason as Reason, ready.message);
        deps.log.warn(ready.message, { ...fields, reason: ready.reason });
      }
    }
  }
  if (pass.retry?.kind === 'backoff') throw new ReconcileError(pass.retry.message);
  return pass.retry?.kind === 'after' ? { requeueAfterMs: pass.retry.ms, conflicts } : { conflicts };
}
