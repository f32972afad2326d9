// One reconcile of one ModelDeployment (fluxcd/source-controller's shape): an ordered list of steps
// with one signature, each naming the conditions it decides, then one summarize-and-patch of the
// status from what the pass saw and wrote. A pass that changes nothing makes no write call.
//
//   validate → render → plan (rollout) → ownership → sync children → summarize (status, events, requeue)
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import { invalidSpecMessage, validateModelDeployment, type ValidModelDeployment } from '../api/validate.ts';
import type { JsonPatchOp } from '../kube/client.ts';
import type { EventType } from '../kube/events.ts';
import { freezeForCache, objectKey } from '../kube/types.ts';
import type { RenderConfig } from '../render/config.ts';
import { renderChildren, type DesiredChildren } from '../render/index.ts';
import { plan, type Plan } from '../rollout/plan.ts';
import { revisionOf } from '../rollout/slots.ts';
import type { SyncFailure } from '../status/compute.ts';
import { Reason } from '../status/reasons.ts';
import { syncChildren, type ChildOutcome } from './children.ts';
import { classifyError, errorText, FORBIDDEN_RETRY_MS, ownershipOf } from './decisions.ts';
import { routeBackends, rolloutSettings, slotOf, wantedObjects, type Wanted } from './rollout.ts';
import { summarize } from './summarize.ts';

/** The kinds of children we own, in the order we apply them. */
export const CHILD_KINDS = [
  { kind: 'Deployment', apiVersion: 'apps/v1' },
  { kind: 'Service', apiVersion: 'v1' },
  { kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2' },
  { kind: 'PodDisruptionBudget', apiVersion: 'policy/v1' },
] as const;

export type ChildKind = (typeof CHILD_KINDS)[number]['kind'];

export interface ApplyCall {
  /** Default "modelship". */
  fieldManager?: string;
  signal: AbortSignal;
}

/** What a reconcile needs from the world: read-only caches, live reads, writes, and a recorder. */
export interface ReconcileDeps {
  getModelDeployment(namespace: string, name: string): ModelDeployment | undefined;
  /** A child from the cache (only labelled children are cached). */
  getChild(kind: ChildKind, namespace: string, name: string): KubernetesObject | undefined;
  /** The cached children of one kind whose controller is the ModelDeployment with this uid. */
  ownedChildren(kind: ChildKind, uid: string): readonly KubernetesObject[];
  /** The model's ReplicaSets and pods from the cache, for the diagnosis. */
  replicaSetsOf(namespace: string, name: string): readonly V1ReplicaSet[];
  podsOf(namespace: string, name: string): readonly V1Pod[];
  /**
   * Whether an object of this kind and name exists that the label-filtered cache does not hold (a
   * metadata-only cache of every object not labelled as ours): only then is it read from the API
   * server before the child is first created.
   */
  nameTaken(kind: ChildKind, namespace: string, name: string): boolean;
  /** A child read from the API server: what the label-filtered cache cannot see. */
  readChild(kind: ChildKind, namespace: string, name: string, signal: AbortSignal): Promise<KubernetesObject | undefined>;
  /** A ReplicaSet read from the API server, with its whole pod template (the cache keeps none). */
  readReplicaSet(namespace: string, name: string, signal: AbortSignal): Promise<V1ReplicaSet | undefined>;
  /** The person's HTTPRoute (trafficRouting), read from the API server; undefined when missing. */
  readRoute(namespace: string, name: string, signal: AbortSignal): Promise<HTTPRoute | undefined>;
  /** JSON patch of the HTTPRoute: only its first rule's backendRefs, guarded by its resourceVersion. */
  patchRoute(namespace: string, name: string, ops: readonly JsonPatchOp[], signal: AbortSignal): Promise<HTTPRoute>;
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
  event(md: ModelDeployment, type: EventType, reason: string, message: string): void;
  /**
   * Applies the API server refused for good (422, 400), by "namespace/name/kind/child": the same
   * object applied onto the same observed child is not sent again, so child events cannot turn a
   * refusal into a write loop. Any change (the spec, or the child) tries again.
   */
  refusals: Map<string, { fingerprint: string; error: unknown }>;
  /**
   * The last validation of each ModelDeployment's spec, by uid. Most passes find the spec as it was
   * (status writes and child events leave it alone): they reuse the defaulted spec and its revision
   * instead of validating, copying and hashing it again. The controller drops an entry when its
   * ModelDeployment is deleted.
   */
  validated: Map<string, Validated>;
  log: { info(msg: string, fields?: object): void; warn(msg: string, fields?: object): void; debug(msg: string, fields?: object): void };
  config: RenderConfig;
  now(): Date;
}

/** The part of a Gateway API HTTPRoute the operator reads. */
export interface HTTPRoute {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { rules?: Array<{ backendRefs?: Array<{ group?: string; kind?: string; name: string; port?: number; weight?: number }> }> };
}

/** What the validate step made of one spec (see ReconcileDeps.validated). */
export interface Validated {
  /** The spec as cached when last seen: compared whole with the next pass's. */
  spec: ModelDeployment['spec'];
  /** The spec with every default, frozen (passes share it); or why the spec is invalid. */
  outcome: { valid: ValidModelDeployment['spec'] } | { invalidSpec: string };
  /** The revision of the pod template rendered from it, once a pass has rendered it. */
  revision?: string;
}

/** A child name taken by someone else: the controller watches it go away. */
export interface ConflictRef {
  kind: ChildKind;
  namespace: string;
  name: string;
}

export interface ReconcileResult {
  /** Run again after this long (a forbidden write, a 429's Retry-After, a canary's pause). */
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

export function childKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** Everything one pass knows; the steps fill it in, summarize reads it. */
export interface Pass {
  readonly namespace: string;
  readonly name: string;
  /** The cached object, frozen: read it, never write to it. */
  readonly md: ModelDeployment;
  readonly uid: string;
  readonly generation: number;
  readonly signal: AbortSignal;
  readonly fields: { namespace: string; name: string; kind: 'ModelDeployment' };
  /** The validate step's verdict on the spec (kept across passes in ReconcileDeps.validated). */
  validation?: Validated;
  valid?: ValidModelDeployment;
  invalidSpec?: string;
  /** The children as render made them for the spec. */
  desired?: DesiredChildren;
  /** The spec's revision (a hash of the pod template). */
  revision?: string;
  plan?: Plan;
  /** What the pass writes, after the plan. */
  wanted: Wanted[];
  /** With trafficRouting: the weight each Deployment's Service has in the HTTPRoute after this pass. */
  routeWeights?: Map<string, number>;
  /** The children as they are after this pass, by childKey: what the server returned for our writes, else the cache. */
  observed: Map<string, KubernetesObject>;
  /** Cached children this ModelDeployment controls, by childKey (what may be deleted). */
  owned: Map<string, KubernetesObject>;
  conflicts: Array<ConflictRef & { message: string }>;
  outcomes: ChildOutcome[];
  failure?: SyncFailure;
  /** Set when the pass must end without writing anything more (lease lost, shutdown, namespace going). */
  quiet?: 'aborted' | 'terminating';
  retry?: { kind: 'backoff'; message: string } | { kind: 'after'; ms: number };
}

type Step = (deps: ReconcileDeps, pass: Pass) => Promise<'continue' | 'stop'>;

/** Sets InvalidSpec (Ready=False, Stalled=True) when the spec fails the operator's validation. */
const validate: Step = async (deps, pass) => {
  const known = validated(deps, pass);
  pass.validation = known;
  if ('invalidSpec' in known.outcome) {
    pass.invalidSpec = known.outcome.invalidSpec;
    return 'stop';
  }
  pass.valid = { ...pass.md, spec: known.outcome.valid } as ValidModelDeployment;
  return 'continue';
};

/** The validation of the pass's spec: the last one when the spec is as it was, else a new one. */
function validated(deps: ReconcileDeps, pass: Pass): Validated {
  const spec = pass.md.spec;
  const known = pass.uid ? deps.validated.get(pass.uid) : undefined;
  if (known !== undefined && (known.spec === spec || isDeepStrictEqual(known.spec, spec))) {
    known.spec = spec; // the cached copy, so that the one it replaced can go
    return known;
  }
  const validation = validateModelDeployment(pass.md);
  const fresh: Validated = {
    spec,
    outcome: validation.ok ? { valid: freezeForCache(validation.value.spec) } : { invalidSpec: invalidSpecMessage(validation.errors) },
  };
  if (pass.uid) deps.validated.set(pass.uid, fresh);
  return fresh;
}

/** Sets no condition: renders the desired children (pure) and the spec's revision. */
const render: Step = async (deps, pass) => {
  pass.desired = renderChildren(pass.valid as ValidModelDeployment, deps.config);
  const known = pass.validation as Validated;
  known.revision ??= revisionOf(pass.desired.deployment.spec?.template);
  pass.revision = known.revision;
  for (const { kind } of CHILD_KINDS) {
    for (const child of deps.ownedChildren(kind, pass.uid)) pass.owned.set(childKey(kind, child.metadata?.name ?? ''), child);
  }
  return 'continue';
};

/**
 * Decides the rollout (sets no condition itself; summarize reads the plan's phase): which
 * Deployments must exist with how many replicas, from the spec, the Deployments that exist, the
 * diagnosis of their pods, the last status and the promote/abort annotations (rollout/plan.ts).
 */
const planRollout: Step = async (deps, pass) => {
  const valid = pass.valid as ValidModelDeployment;
  const replicaSets = deps.replicaSetsOf(pass.namespace, pass.name);
  const pods = deps.podsOf(pass.namespace, pass.name);
  const slots = [...pass.owned.entries()].filter(([k]) => k.startsWith('Deployment/')).map(([, d]) => slotOf(d as V1Deployment, replicaSets, pods));
  const previous = pass.md.status?.rollout;
  const lastGood = previous?.stableRevision ?? previous?.revision;
  const restoreTarget = pass.md.status?.history?.find((h) => h.revision === lastGood)?.replicaSet;
  pass.plan = plan({
    mdName: pass.name,
    revision: pass.revision as string,
    settings: rolloutSettings(valid),
    slots,
    previous,
    annotations: pass.md.metadata?.annotations ?? {},
    now: deps.now(),
    ...(restoreTarget !== undefined ? { restoreTarget } : {}),
  });
  pass.wanted = wantedObjects(pass.desired as DesiredChildren, pass.plan, valid.spec.rollout?.canary?.trafficRouting?.httpRouteRef !== undefined);
  return 'continue';
};

/**
 * Sets ChildConflict (Stalled=True) when an object of a wanted child's name exists and this
 * ModelDeployment does not control it. The label-filtered cache cannot see an unlabelled object:
 * when the metadata cache of unlabelled objects holds the name, it is read from the API server
 * before the child is first created (a new model's children cost no read at all).
 */
const ownership: Step = async (deps, pass) => {
  await Promise.all(
    pass.wanted.map(async (w) => {
      const kind = w.kind as ChildKind;
      let have = deps.getChild(kind, pass.namespace, w.name);
      if (!have && deps.nameTaken(kind, pass.namespace, w.name)) have = await deps.readChild(kind, pass.namespace, w.name, pass.signal);
      const owner = ownershipOf(have, pass.uid, kind);
      if (owner.kind === 'foreign') pass.conflicts.push({ kind, namespace: pass.namespace, name: w.name, message: owner.message });
      else if (have) pass.observed.set(childKey(kind, w.name), have);
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
  for (const f of pass.outcomes.filter((o) => o.error !== undefined)) {
    const failure = failureOf(pass, f.error, f.deleting ? 'Deleting' : 'Applying', f.kind, f.name);
    // The most serious failure wins: refused for good, then retried.
    if (!pass.failure || (pass.failure.reason === Reason.ApplyFailed && failure.reason !== Reason.ApplyFailed)) pass.failure = failure;
  }
  return 'continue';
};

/** Turns an error into the pass's failure, and decides how the key is retried. */
function failureOf(pass: Pass, err: unknown, verb: string, kind?: string, name?: string): SyncFailure {
  const what = kind ? `${verb} ${kind} ${name ?? pass.name}` : `${verb} the children of ${pass.name}`;
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

/**
 * Sets ApplyFailed (Reconciling, retried) when the HTTPRoute of trafficRouting cannot be read or
 * written. Writes its first rule's backends and weights (rollout/routeBackends) when they differ,
 * and nothing else of it: the route is the person's.
 */
const route: Step = async (deps, pass) => {
  const ref = pass.valid?.spec.rollout?.canary?.trafficRouting?.httpRouteRef;
  if (!ref || !pass.plan || pass.failure) return 'continue';
  const port = pass.desired?.service.spec?.ports?.[0]?.port ?? 80;
  const ready = (name: string) => (pass.observed.get(childKey('Deployment', name)) as V1Deployment | undefined)?.status?.readyReplicas ?? 0;
  const backends = routeBackends(pass.plan, ready, port);
  if (!backends) {
    deps.log.debug('Left the HTTPRoute alone: a Deployment made before trafficRouting was set has no Service of its own', pass.fields);
    return 'continue';
  }
  try {
    const current = await deps.readRoute(pass.namespace, ref.name, pass.signal);
    if (!current) {
      pass.failure = { reason: Reason.ApplyFailed, message: `HTTPRoute ${pass.namespace}/${ref.name} (rollout.canary.trafficRouting) does not exist; create it with a first rule for this model (docs/rollouts.md)` };
      pass.retry = { kind: 'after', ms: FORBIDDEN_RETRY_MS };
      return 'stop';
    }
    const want = backends.map((b) => ({ group: '', kind: 'Service', name: b.name, port: b.port, weight: b.weight }));
    const have = current.spec?.rules?.[0]?.backendRefs ?? [];
    const same = have.length === want.length && want.every((w, i) => have[i]?.name === w.name && have[i]?.port === w.port && (have[i]?.weight ?? 1) === w.weight);
    if (!same) {
      await deps.patchRoute(pass.namespace, ref.name, [
        { op: 'test', path: '/metadata/resourceVersion', value: current.metadata?.resourceVersion },
        { op: current.spec?.rules?.[0] ? 'replace' : 'add', path: current.spec?.rules?.[0] ? '/spec/rules/0/backendRefs' : '/spec/rules', value: current.spec?.rules?.[0] ? want : [{ backendRefs: want }] },
      ], pass.signal);
      deps.log.info('Set the HTTPRoute weights', { ...pass.fields, route: ref.name, weights: backends.map((b) => `${b.name}=${b.weight}`).join(',') });
    }
    pass.routeWeights = new Map(backends.map((b) => [b.name, b.weight]));
  } catch (err) {
    pass.failure = failureOf(pass, err, 'Setting the weights of', 'HTTPRoute', ref.name);
  }
  return 'continue';
};

const STEPS: readonly Step[] = [validate, render, planRollout, ownership, sync, route];

/** Drops what the deps keep for a ModelDeployment that was deleted: its refusals and its validation. */
export function forget(deps: Pick<ReconcileDeps, 'refusals' | 'validated'>, md: ModelDeployment): void {
  const prefix = `${objectKey(md)}/`;
  for (const key of deps.refusals.keys()) if (key.startsWith(prefix)) deps.refusals.delete(key);
  if (md.metadata?.uid) deps.validated.delete(md.metadata.uid);
}

/** Reconciles the ModelDeployment named by `key` ("namespace/name"). Throws to be retried with backoff. */
export async function reconcile(deps: ReconcileDeps, key: string, signal: AbortSignal = new AbortController().signal): Promise<ReconcileResult> {
  const slash = key.indexOf('/');
  const [namespace, name] = [key.slice(0, slash), key.slice(slash + 1)];
  const cached = deps.getModelDeployment(namespace, name);
  // Deleted: the garbage collector removes the children through their ownerReferences.
  if (!cached || cached.metadata?.deletionTimestamp) return { conflicts: [] };
  // The cached object itself: the cache deep-freezes what it hands out, so nothing here can change
  // it (a write to it throws), and no copy is made per pass.
  const md = cached;
  const pass: Pass = {
    namespace,
    name,
    md,
    uid: md.metadata?.uid ?? '',
    generation: md.metadata?.generation ?? 0,
    signal,
    fields: { namespace, name, kind: 'ModelDeployment' },
    wanted: [],
    observed: new Map(),
    owned: new Map(),
    conflicts: [],
    outcomes: [],
  };
  for (const step of STEPS) {
    if ((await step(deps, pass)) === 'stop') break;
  }
  return summarize(deps, pass);
}

