// The ModelDeployment controller: informers for the ModelDeployments and for the children we
// label, handlers that only enqueue keys, and a work queue that runs reconcile.
import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import type { KubeClient } from '../kube/client.ts';
import { Informer } from '../kube/informer.ts';
import type { RestClient } from '../kube/rest.ts';
import { controllerOf, objectKey, type KubeObject } from '../kube/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { RenderConfig } from '../render/config.ts';
import { MANAGED_BY_SELECTOR } from '../render/labels.ts';
import { WorkQueue } from './queue.ts';
import type { EventType, Reason } from './events.ts';
import { CHILD_KINDS, reconcile, type ChildKind, type ReconcileDeps } from './reconcile.ts';

export const CONTROLLER_NAME = 'modeldeployment';

export interface EventSink {
  event(md: ModelDeployment, type: EventType, reason: Reason, message: string): void;
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
}

export class Controller {
  readonly modelDeployments: Informer<ModelDeployment & KubeObject>;
  readonly children: Record<ChildKind, Informer<KubeObject>>;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Only the leader reconciles; a standby keeps its caches warm and enqueues nothing. */
  private leading = false;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    const common = { rest: opts.rest, logger: opts.logger, namespaces: opts.namespaces };
    this.modelDeployments = new Informer<ModelDeployment & KubeObject>({ ...common, apiVersion: API_VERSION, kind: KIND });
    this.children = Object.fromEntries(
      CHILD_KINDS.map(({ kind, apiVersion }) => [kind, new Informer<KubeObject>({ ...common, apiVersion, kind, labelSelector: MANAGED_BY_SELECTOR })]),
    ) as Record<ChildKind, Informer<KubeObject>>;

    const deps: ReconcileDeps = {
      getModelDeployment: (ns, name) => this.modelDeployments.get(ns, name),
      getChild: (kind, ns, name) => this.children[kind].get(ns, name) as KubernetesObject | undefined,
      apply: (obj) => opts.client.apply(obj as Parameters<KubeClient['apply']>[0]),
      replaceSpec: (obj) => {
        const o = obj as KubernetesObject & { spec?: unknown };
        return opts.client.mergePatch({ apiVersion: o.apiVersion!, kind: o.kind!, namespace: o.metadata!.namespace!, name: o.metadata!.name! }, { spec: o.spec });
      },
      deleteChild: async (kind, namespace, name, uid) => {
        const apiVersion = CHILD_KINDS.find((c) => c.kind === kind)!.apiVersion;
        await opts.client.delete({ apiVersion, kind, namespace, name }, { uid, propagationPolicy: 'Background' });
      },
      patchStatus: async (md, status: ModelDeploymentStatus) => {
        await opts.client.applyStatus({
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name: md.metadata.name!, namespace: md.metadata.namespace! },
          status,
        });
      },
      event: (md, type, reason, message) => opts.events.event(md, type, reason, message),
      log: opts.logger,
      config: opts.renderConfig,
      now: () => new Date(),
    };

    this.queue = new WorkQueue({
      name: CONTROLLER_NAME,
      concurrency: opts.concurrency,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      handler: (key) => reconcile(deps, key),
      onError: (key, err, retryInMs) => {
        const [namespace, name] = key.split('/');
        opts.logger.warn('Reconcile failed, will retry', { namespace, name, kind: KIND, error: (err as Error).message, retryInMs });
      },
    });

    this.modelDeployments.on({
      add: (md) => this.enqueue(objectKey(md)),
      // Our own status writes also arrive here: only a new generation (a spec change) needs work.
      update: (md, old) => {
        if (md.metadata?.generation !== old.metadata?.generation || md.metadata?.deletionTimestamp !== old.metadata?.deletionTimestamp) {
          this.enqueue(objectKey(md));
        }
      },
    });
    const enqueueOwner = (child: KubeObject) => {
      const owner = controllerOf(child);
      if (owner?.kind === KIND && owner.apiVersion === API_VERSION && child.metadata?.namespace) {
        this.enqueue(`${child.metadata.namespace}/${owner.name}`);
      }
    };
    for (const informer of Object.values(this.children)) {
      informer.on({ add: enqueueOwner, update: (obj) => enqueueOwner(obj), delete: enqueueOwner });
    }
  }

  private enqueue(key: string): void {
    if (this.leading) this.queue.add(key);
  }

  private informers(): Informer<KubeObject>[] {
    return [this.modelDeployments, ...Object.values(this.children)];
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
    await Promise.all(this.informers().map((i) => i.stop()));
  }
}
