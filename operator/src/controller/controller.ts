// The ModelDeployment controller: informers for the ModelDeployments, the children we label and the
// ReplicaSets and pods behind them; handlers that only enqueue keys; a work queue that runs
// reconcile; and, while a child's name is taken by someone else, a watch on that one object so the
// ModelDeployment converges as soon as it goes away.
import type { KubernetesObject, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import type { KubeClient } from '../kube/client.ts';
import type { EventType } from '../kube/events.ts';
import { Informer } from '../kube/informer.ts';
import { WorkQueue } from '../kube/queue.ts';
import type { RestClient } from '../kube/rest.ts';
import { controllerOf, objectKey, type KubeObject } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { RenderConfig } from '../render/config.ts';
import { INSTANCE_LABEL, MANAGED_BY_SELECTOR, NOT_MANAGED_BY_SELECTOR } from '../render/labels.ts';
import { podForCache, podProblem, replicaSetForCache } from '../status/diagnose.ts';
import { CHILD_KINDS, forget, reconcile, type ChildKind, type ConflictRef, type HTTPRoute, type ReconcileDeps } from './reconcile.ts';
import { ABORT_ANNOTATION, PROMOTE_ANNOTATION } from './rollout.ts';

export const CONTROLLER_NAME = 'modeldeployment';
/** How long a change of a model's children waits for the next ones before its reconcile. */
export const STATUS_BATCH_MS = 1000;
const HTTPROUTE_API_VERSION = 'gateway.networking.k8s.io/v1';

export interface EventSink {
  event(md: ModelDeployment, type: EventType, reason: string, message: string): void;
}

export interface ControllerOptions {
  rest: RestClient;
  client: KubeClient;
  events: EventSink;
  logger: Logger;
  metrics?: Metrics;
  renderConfig: RenderConfig;
  namespaces: readonly string[];
  concurrency: number;
  /** Every key is reconciled again this often, a safety net for anything a watch missed. */
  resyncMs?: number;
  /** A watch with no byte for this long is reopened; default restListerWatcher's. */
  watchInactivityTimeoutMs?: number;
}

/** What the names cache keeps of a foreign object: its key, nothing it could leak or grow with. */
function nameOnly(obj: KubeObject): KubeObject {
  const m = obj.metadata ?? {};
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } } as KubeObject;
}

function apiVersionOf(kind: ChildKind): string {
  return CHILD_KINDS.find((c) => c.kind === kind)!.apiVersion;
}

/**
 * Whether an update of a ModelDeployment needs a pass. Our own status writes arrive as updates
 * too: only a new generation (a spec change), a deletion, a person's promote or abort annotation,
 * or a new object under the same name (deleted and made again between two lists, perhaps at the
 * same generation) needs work.
 */
export function modelDeploymentChanged(md: KubeObject, old: KubeObject): boolean {
  const asked = (o: KubeObject) => [PROMOTE_ANNOTATION, ABORT_ANNOTATION].map((a) => o.metadata?.annotations?.[a]).join('\u0000');
  return (
    md.metadata?.uid !== old.metadata?.uid ||
    md.metadata?.generation !== old.metadata?.generation ||
    md.metadata?.deletionTimestamp !== old.metadata?.deletionTimestamp ||
    asked(md) !== asked(old)
  );
}

/**
 * Whether a child changed in what a reconcile reads of it: its metadata (labels, annotations,
 * owners, deletion; not its resourceVersion), its spec, and of its status only what the
 * ModelDeployment's status reports. A change elsewhere (a PodDisruptionBudget's counts, a
 * Service's load balancer, an autoscaler's live metric values at every sync) needs no reconcile.
 * The spec of a kind with a generation is compared by its generation, which every spec change
 * raises: a Deployment's pod template is not walked at each of its status updates.
 */
export function childChanged(kind: ChildKind, obj: KubeObject, old: KubeObject): boolean {
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = obj.metadata ?? {};
  const { resourceVersion: _orv, managedFields: _omf, ...oldMeta } = old.metadata ?? {};
  if (!isDeepStrictEqual(meta, oldMeta)) return true;
  const o = obj as KubeObject & { spec?: unknown; status?: Record<string, unknown> };
  const p = old as KubeObject & { spec?: unknown; status?: Record<string, unknown> };
  if (kind === 'Service' && !isDeepStrictEqual(o.spec, p.spec)) return true;
  if (kind === 'Deployment') return !isDeepStrictEqual(o.status, p.status);
  if (kind === 'HorizontalPodAutoscaler') {
    const { currentMetrics: _m, ...now } = o.status ?? {};
    const { currentMetrics: _pm, ...before } = p.status ?? {};
    return !isDeepStrictEqual(now, before);
  }
  return false;
}

/** The ModelDeployment a pod or ReplicaSet belongs to: they carry its name as the instance label. */
function instanceKey(obj: KubeObject): string | undefined {
  const name = obj.metadata?.labels?.[INSTANCE_LABEL];
  const ns = obj.metadata?.namespace;
  return name && ns ? `${ns}/${name}` : undefined;
}

export class Controller {
  readonly modelDeployments: Informer<ModelDeployment & KubeObject>;
  readonly children: Record<ChildKind, Informer<KubeObject>>;
  readonly replicaSets: Informer<V1ReplicaSet & KubeObject>;
  readonly pods: Informer<V1Pod & KubeObject>;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Only the leader reconciles; a standby keeps its caches warm and enqueues nothing. */
  private leading = false;
  /**
   * Metadata only (name, namespace) of every object of a child kind that is not labelled as ours:
   * a name missing here and from the child cache is free, so a new model's children are created
   * without reading each from the API server first.
   */
  readonly names: Record<ChildKind, Informer<KubeObject>>;
  /** The ModelDeployment each foreign object blocks, by "kind/namespace/name". */
  private readonly conflictOwners = new Map<string, string>();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    const common = {
      rest: opts.rest,
      logger: opts.logger,
      namespaces: opts.namespaces,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      ...(opts.watchInactivityTimeoutMs !== undefined ? { inactivityTimeoutMs: opts.watchInactivityTimeoutMs } : {}),
    };
    const byInstance = (o: KubeObject) => instanceKey(o);
    this.modelDeployments = new Informer<ModelDeployment & KubeObject>({ ...common, apiVersion: API_VERSION, kind: KIND });
    // Indexed by the uid of their controller, so a ModelDeployment finds every child it controls.
    this.children = Object.fromEntries(
      CHILD_KINDS.map(({ kind, apiVersion }) => [kind, new Informer<KubeObject>({ ...common, apiVersion, kind, labelSelector: MANAGED_BY_SELECTOR, index: (o) => controllerOf(o)?.uid })]),
    ) as Record<ChildKind, Informer<KubeObject>>;
    this.names = Object.fromEntries(
      CHILD_KINDS.map(({ kind, apiVersion }) => [kind, new Informer<KubeObject>({ ...common, apiVersion, kind, labelSelector: NOT_MANAGED_BY_SELECTOR, metadataOnly: true, transform: nameOnly })]),
    ) as Record<ChildKind, Informer<KubeObject>>;
    // Only what the diagnosis reads is cached of these (status/diagnose.ts).
    this.replicaSets = new Informer<V1ReplicaSet & KubeObject>({
      ...common, apiVersion: 'apps/v1', kind: 'ReplicaSet', labelSelector: MANAGED_BY_SELECTOR,
      transform: (rs) => replicaSetForCache(rs) as V1ReplicaSet & KubeObject, withoutSpec: true, index: byInstance,
    });
    this.pods = new Informer<V1Pod & KubeObject>({
      ...common, apiVersion: 'v1', kind: 'Pod', labelSelector: MANAGED_BY_SELECTOR,
      transform: (pod) => podForCache(pod) as V1Pod & KubeObject, withoutSpec: true, index: byInstance,
    });

    const client = opts.client;
    const deps: ReconcileDeps = {
      getModelDeployment: (ns, name) => this.modelDeployments.get(ns, name),
      getChild: (kind, ns, name) => this.children[kind].get(ns, name) as KubernetesObject | undefined,
      ownedChildren: (kind, uid) => this.children[kind].byIndex(uid) as KubernetesObject[],
      replicaSetsOf: (ns, name) => this.replicaSets.byIndex(`${ns}/${name}`),
      podsOf: (ns, name) => this.pods.byIndex(`${ns}/${name}`),
      nameTaken: (kind, ns, name) => this.names[kind].get(ns, name) !== undefined,
      readChild: (kind, namespace, name, signal) => client.get({ apiVersion: apiVersionOf(kind), kind, namespace, name }, { signal }) as Promise<KubernetesObject | undefined>,
      readReplicaSet: (namespace, name, signal) => client.get<V1ReplicaSet & KubeObject>({ apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace, name }, { signal }),
      readRoute: (namespace, name, signal) => client.get<HTTPRoute & KubeObject>({ apiVersion: HTTPROUTE_API_VERSION, kind: 'HTTPRoute', namespace, name }, { signal }),
      patchRoute: (namespace, name, ops, signal) => client.jsonPatch<HTTPRoute & KubeObject>({ apiVersion: HTTPROUTE_API_VERSION, kind: 'HTTPRoute', namespace, name }, ops, { signal }),
      // Every write's answer is assumed into the cache it belongs to (read-your-writes), so the next
      // pass never decides from the version before our own write.
      apply: async (obj, call) => {
        const stored = (await client.apply(obj as Parameters<KubeClient['apply']>[0], { signal: call.signal, ...(call.fieldManager ? { fieldManager: call.fieldManager } : {}) })) as KubernetesObject;
        this.assumeChild(stored);
        return stored;
      },
      replaceSpec: async (obj, signal) => {
        const o = obj as KubernetesObject & { spec?: unknown };
        const stored = (await client.mergePatch({ apiVersion: o.apiVersion!, kind: o.kind!, namespace: o.metadata!.namespace!, name: o.metadata!.name! }, { spec: o.spec }, { signal })) as KubernetesObject;
        this.assumeChild(stored);
        return stored;
      },
      deleteChild: async (kind, namespace, name, uid, signal) => {
        await client.delete({ apiVersion: apiVersionOf(kind), kind, namespace, name }, { uid, propagationPolicy: 'Background', signal });
        this.children[kind].assumeDeleted(namespace, name);
      },
      patchStatus: async (md, status: ModelDeploymentStatus, signal) => {
        const stored = await client.applyStatus<ModelDeployment & KubeObject>(
          { apiVersion: API_VERSION, kind: KIND, metadata: { name: md.metadata.name!, namespace: md.metadata.namespace! }, status },
          { signal },
        );
        if (stored?.metadata) this.modelDeployments.assume({ ...stored, apiVersion: API_VERSION, kind: KIND });
      },
      event: (md, type, reason, message) => opts.events.event(md, type, reason, message),
      refusals: new Map(),
      validated: new Map(),
      log: opts.logger,
      config: opts.renderConfig,
      now: () => new Date(),
    };

    this.queue = new WorkQueue({
      name: CONTROLLER_NAME,
      concurrency: opts.concurrency,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      handler: async (key, ctx) => {
        const result = await reconcile(deps, key, ctx.signal);
        if (this.leading) this.watchConflicts(key, result.conflicts);
        return result.requeueAfterMs !== undefined ? { requeueAfter: result.requeueAfterMs } : undefined;
      },
      onError: (key, err, retryInMs) => {
        const [namespace, name] = key.split('/');
        opts.logger.warn('Reconcile failed, will retry', { namespace, name, kind: KIND, error: (err as Error).message, retryInMs });
      },
    });

    this.modelDeployments.on({
      add: (md) => this.enqueue(objectKey(md)),
      update: (md, old) => {
        // Deleted and made again under the same name between two lists: the old one is gone.
        if (md.metadata?.uid !== old.metadata?.uid) forget(deps, old);
        if (modelDeploymentChanged(md, old)) this.enqueue(objectKey(md));
      },
      delete: (md) => {
        this.watchConflicts(objectKey(md), []);
        forget(deps, md);
      },
    });
    const enqueueOwner = (child: KubeObject) => {
      const owner = controllerOf(child);
      if (owner?.kind === KIND && owner.apiVersion === API_VERSION && child.metadata?.namespace) {
        this.observed(`${child.metadata.namespace}/${owner.name}`);
      }
    };
    for (const { kind } of CHILD_KINDS) {
      const blocked = (obj: KubeObject): void => this.enqueueBlocked(kind, obj);
      const child = (obj: KubeObject): void => {
        enqueueOwner(obj);
        blocked(obj);
      };
      const changed = (obj: KubeObject, old: KubeObject): void => {
        if (childChanged(kind, obj, old)) enqueueOwner(obj);
        blocked(obj);
      };
      this.children[kind].on({ add: child, update: changed, delete: child });
      this.names[kind].on({ add: blocked, update: blocked, delete: blocked });
    }
    // A pod matters only when what keeps it from serving changes (the diagnosis); its readiness
    // reaches us through the Deployment's status anyway.
    this.pods.on({
      update: (pod, old) => {
        const key = instanceKey(pod);
        if (key && !isDeepStrictEqual(podProblem(pod), podProblem(old))) this.observed(key);
      },
      add: (pod) => {
        const key = instanceKey(pod);
        if (key && podProblem(pod) !== undefined) this.observed(key);
      },
    });
  }

  private assumeChild(obj: KubernetesObject | undefined): void {
    const kind = obj?.kind as ChildKind | undefined;
    if (obj?.metadata && kind && kind in this.children) this.children[kind].assume(obj as KubeObject);
  }

  private enqueue(key: string): void {
    if (this.leading) this.queue.add(key);
  }

  /**
   * A child or pod of the model changed: what its status reports. The key goes into the queue's
   * high lane, so a model whose Deployment became available says so within about a second instead
   * of waiting behind every new model's first pass (in FIFO order a mass create of 1,000 left a
   * model "not Ready" up to 75 s after its Deployment was available: docs/performance.md, "The
   * status lag"). It waits STATUS_BATCH_MS from the first change, so the steps of one rollout
   * (ReplicaSet created, pod created, pod ready) make one status write, not one each.
   */
  private observed(key: string): void {
    if (this.leading) this.queue.addAfter(key, STATUS_BATCH_MS, { priority: 'high' });
  }

  /**
   * Remembers which foreign objects block `owner`, so that a change to one of them (deleted,
   * relabelled, adopted by hand) enqueues it at once instead of at the periodic resync. The names
   * cache sees the unlabelled ones, the child caches the labelled ones another owner controls.
   */
  private watchConflicts(owner: string, conflicts: readonly ConflictRef[]): void {
    for (const [id, o] of this.conflictOwners) if (o === owner) this.conflictOwners.delete(id);
    for (const c of conflicts) this.conflictOwners.set(`${c.kind}/${c.namespace}/${c.name}`, owner);
  }

  private enqueueBlocked(kind: string, obj: KubeObject): void {
    if (this.conflictOwners.size === 0) return;
    const owner = this.conflictOwners.get(`${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
    if (owner !== undefined) this.enqueue(owner);
  }

  private informers(): Array<Pick<Informer<KubeObject>, 'start' | 'stop' | 'hasSynced' | 'waitForSync'>> {
    return [this.modelDeployments, ...Object.values(this.children), ...Object.values(this.names), this.replicaSets, this.pods];
  }

  /** Starts the watches (every replica does, so a standby is ready to take over at once). */
  startInformers(): void {
    for (const i of this.informers()) i.start();
  }

  hasSynced(): boolean {
    return this.informers().every((i) => i.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all(this.informers().map((i) => i.waitForSync(signal)));
    return results.every(Boolean);
  }

  /** Starts reconciling (the leader only): every known ModelDeployment once, then on change. */
  startWorkers(): void {
    this.leading = true;
    const all = () => {
      for (const md of this.modelDeployments.list()) this.queue.add(objectKey(md));
    };
    all();
    const resync = this.opts.resyncMs ?? 10 * 60_000;
    this.resyncTimer = setInterval(all, resync);
    this.resyncTimer.unref();
  }

  /** Stops taking keys, lets in-flight reconciles finish (bounded), and stops the watches. */
  async stop(timeoutMs: number): Promise<void> {
    this.leading = false;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.queue.shutdown(timeoutMs);
    this.conflictOwners.clear();
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  /**
   * Leadership lost: stop at once. Queued keys are dropped, in-flight reconciles are aborted (their
   * requests cancelled) without waiting, as controller-runtime does when it loses the lease.
   */
  async abort(): Promise<void> {
    this.leading = false;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.queue.shutdown(0);
    this.conflictOwners.clear();
  }
}
