// A shared informer: a read-only cache of one resource kind, kept current by LIST then WATCH,
// with add/update/delete handlers. One reflector loop per watched namespace (or one for all).
//
// Why not client-node's makeInformer: it stops for good on any error except 410, retries with
// its own fixed timings, and cannot be told apart from "healthy" without extra wiring. This loop
// follows CONVENTIONS.md: LIST, WATCH from the list's resourceVersion, relist on 410, otherwise
// re-watch from the last seen resourceVersion after a backoff (0.8 s doubling to 30 s, reset
// after 2 minutes without trouble, or when the watch that broke had been healthy), and never gives up.
//
// NEVER mutate an object handed out by the cache: they are frozen. structuredClone() first.
import type { Logger } from '../observability/logger.ts';
import { metrics as defaultMetrics, type Metrics } from '../observability/metrics.ts';
import type { Echo } from './decode.ts';
import type { RestClient } from './rest.ts';
import { freezeForCache, objectKey, type KubeObject } from './types.ts';
import { restListerWatcher, type ListerWatcher, type WatchEnd, type WatchEvent } from './watch.ts';

/**
 * The default of what the cache keeps of an object: all of it but metadata.managedFields (often the
 * largest part, and read by nobody here; controller-runtime's TransformStripManagedFields).
 */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata && 'managedFields' in obj.metadata) delete (obj.metadata as { managedFields?: unknown }).managedFields;
  return obj;
}

/** A watch open this long (or that delivered an event) before it broke proves the server healthy. */
export const HEALTHY_WATCH_MS = 5_000;

/** How long an assumed write may stand in for the cache at most. */
export const ASSUME_TTL_MS = 30_000;

interface Assumed<T> {
  obj: T | undefined;
  rv: bigint | undefined;
  at: number;
  deletedUid?: string;
}

/** A resourceVersion as a number, when it is one (etcd's are); undefined otherwise. */
function parseRv(rv: string | undefined): bigint | undefined {
  return rv !== undefined && /^[0-9]+$/.test(rv) ? BigInt(rv) : undefined;
}

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

/** client-go's reflector backoff manager: 0.8 s × 2^n up to 30 s, reset after 2 min of quiet. */
export class ReconnectBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
  private current: number;
  private lastStart: number | undefined;
  private readonly now: () => number;

  constructor(now: () => number, initialMs = 800, maxMs = 30_000, resetAfterMs = 120_000) {
    this.now = now;
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.resetAfterMs = resetAfterMs;
    this.current = initialMs;
  }

  /** Starts over at the initial delay (the last attempt proved the server healthy). */
  reset(): void {
    this.current = this.initialMs;
  }

  /** The delay to wait before the next attempt. */
  next(): number {
    const t = this.now();
    if (this.lastStart !== undefined && t - this.lastStart > this.resetAfterMs) this.current = this.initialMs;
    this.lastStart = t;
    const delay = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return delay;
  }
}

/** What a relist changes in the cache: pure, so it is tested on its own. */
export function diffList<T extends KubeObject>(
  cached: ReadonlyMap<string, T>,
  items: readonly T[],
): { added: T[]; updated: Array<{ obj: T; old: T }>; deleted: T[] } {
  const added: T[] = [];
  const updated: Array<{ obj: T; old: T }> = [];
  const seen = new Set<string>();
  for (const obj of items) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cached.get(key);
    if (!old) added.push(obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) updated.push({ obj, old });
  }
  const deleted = [...cached.entries()].filter(([k]) => !seen.has(k)).map(([, v]) => v);
  return { added, updated, deleted };
}

/** A sleep that ends early (resolving false) when the signal aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<boolean>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export interface InformerOptions<T> {
  apiVersion: string;
  kind: string;
  /** Namespaces to watch, one watch each; empty or undefined: all namespaces in one watch. */
  namespaces?: readonly string[];
  labelSelector?: string;
  fieldSelector?: string;
  /** List and watch only the objects' metadata (PartialObjectMetadata). */
  metadataOnly?: boolean;
  /**
   * What the cache keeps of each object (controller-runtime's cache transform): gets the object as
   * decoded, returns what to store. Default: all but metadata.managedFields.
   */
  transform?: (obj: T) => T;
  /**
   * The transform keeps no more of the spec than its replicas: decode each object without the
   * rest (built-in kinds only: decode.ts), which is most of a pod or a ReplicaSet.
   */
  withoutSpec?: boolean;
  /** A secondary index (a cache indexer): objects are found by this value with byIndex(). */
  index?: (obj: T) => string | undefined;
  /** Builds the LIST/WATCH for a namespace (undefined = all). Defaults to the REST one on `rest`. */
  listerWatcher?: (namespace: string | undefined) => ListerWatcher<T>;
  rest?: RestClient;
  /** A REST watch with no byte for this long is reopened (restListerWatcher's default when unset). */
  inactivityTimeoutMs?: number;
  logger?: Logger;
  metrics?: Metrics;
  now?: () => number;
  sleep?: Sleep;
  /** A clean watch end shorter than this, with no events, counts as a failure (no hot loop). */
  minHealthyWatchMs?: number;
  /** A watch that broke after running this long starts the reconnect backoff over (default 5 s). */
  healthyWatchMs?: number;
}

export class Informer<T extends KubeObject> {
  readonly kind: string;
  private readonly options: InformerOptions<T>;
  private readonly store = new Map<string, T>();
  /** index value → key → object, when options.index is set. */
  private readonly indexed = new Map<string, Map<string, T>>();
  /** Objects our own writes returned (or deleted), until the watch catches up. */
  private readonly assumed = new Map<string, Assumed<T>>();
  /**
   * The same objects by resourceVersion, until the watch brings each back: the event is then
   * delivered as this object, not decoded again (decode.ts, echoOf). `at`: when it was written.
   */
  private readonly echoes = new Map<string, Echo<T> & { at: number }>();
  private reusedEchoes = 0;
  /** Uids the watch reported deleted: a write's late answer about one of them is not assumed. */
  private readonly goneUids = new Map<string, number>();
  private readonly handlers: Array<InformerHandlers<T>> = [];
  private readonly synced = new Set<string>();
  private readonly scopes: Array<string | undefined>;
  private readonly abort = new AbortController();
  private loops: Array<Promise<void>> = [];
  private syncWaiters: Array<() => void> = [];
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private readonly m: Metrics;

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.kind = options.kind;
    this.m = options.metrics ?? defaultMetrics;
    this.scopes = options.namespaces && options.namespaces.length > 0 ? [...new Set(options.namespaces)] : [undefined];
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? realSleep;
    if (!options.listerWatcher && !options.rest) throw new Error(`Informer for ${options.kind} needs a rest client or a listerWatcher.`);
  }

  /** Registers handlers. Add them before start() to see the initial list as adds. */
  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  /** Starts the reflector loops in the background. */
  start(): void {
    if (this.loops.length > 0) return;
    this.loops = this.scopes.map((ns) => this.run(ns));
  }

  /** Stops watching; resolves when every loop has ended. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  /** True once every namespace has been listed at least once. */
  hasSynced(): boolean {
    return this.synced.size === this.scopes.length;
  }

  /** Resolves when synced; false if the informer stopped or the signal aborted first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.hasSynced()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        signal?.removeEventListener('abort', onAbort);
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = (): void => done(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => done(true));
    });
  }

  /** A cached object. Frozen: never mutate it (structuredClone() first). */
  get(namespace: string, name: string): T | undefined {
    const key = namespace ? `${namespace}/${name}` : name;
    const a = this.assumedFor(key);
    return a ? a.obj : this.store.get(key);
  }

  /** Cached objects whose index value (options.index) is `value`. Frozen: never mutate them. */
  byIndex(value: string): T[] {
    const entries = new Map(this.indexed.get(value) ?? []);
    for (const key of [...this.assumed.keys()]) {
      const a = this.assumedFor(key);
      if (!a) continue;
      entries.delete(key);
      if (a.obj && this.options.index?.(a.obj) === value) entries.set(key, a.obj);
    }
    return [...entries.values()];
  }

  /**
   * Read-your-writes (client-go's "assume"): the object one of our writes returned, or one we
   * deleted, until the watch delivers that version (or a newer one) or ASSUME_TTL_MS passes. Without
   * it, a reconcile that runs right after our own write reads the version before it and decides
   * backwards (a canary step undone, a status that steps back).
   */
  assume(obj: T): void {
    const uid = obj.metadata?.uid;
    if (uid && this.goneUids.has(uid)) return;
    if (this.goneUids.size > 1000) for (const [u, at] of this.goneUids) if (this.now() - at > ASSUME_TTL_MS) this.goneUids.delete(u);
    const key = objectKey(obj);
    // Frozen in place, not copied: the writer hands over the object the server returned and only
    // reads it afterwards.
    const cached = this.cacheable(obj);
    const rv = cached.metadata?.resourceVersion;
    const now = this.now();
    this.assumed.set(key, { obj: cached, rv: parseRv(rv), at: now });
    // A metadata-only watch never brings back what a write returned.
    if (rv && uid && !this.options.metadataOnly) {
      // A write that changed nothing returns a version the watch has already delivered: such
      // entries go once they are older than any assumption (oldest first: a Map keeps its order).
      for (const [v, e] of this.echoes) {
        if (now - e.at <= ASSUME_TTL_MS) break;
        this.echoes.delete(v);
      }
      this.echoes.delete(rv);
      this.echoes.set(rv, { uid, object: cached, at: now });
    }
  }

  /** How many watch events were our own writes coming back, delivered without decoding. */
  get echoesReused(): number {
    return this.reusedEchoes;
  }

  /** Our delete of this object succeeded: it is gone for readers until the watch says so. */
  assumeDeleted(namespace: string, name: string): void {
    const key = namespace ? `${namespace}/${name}` : name;
    const uid = this.store.get(key)?.metadata?.uid;
    this.assumed.set(key, { obj: undefined, rv: undefined, at: this.now(), ...(uid ? { deletedUid: uid } : {}) });
  }

  /** The assumed entry for a key while the cache has not caught up with it; drops stale ones. */
  private assumedFor(key: string): Assumed<T> | undefined {
    const a = this.assumed.get(key);
    if (!a) return undefined;
    const cached = this.store.get(key);
    const caughtUp =
      this.now() - a.at > ASSUME_TTL_MS ||
      (a.obj === undefined ? cached === undefined || cached.metadata?.uid !== a.deletedUid : cached !== undefined && (a.rv === undefined || (parseRv(cached.metadata?.resourceVersion) ?? 0n) >= a.rv));
    if (caughtUp) {
      this.assumed.delete(key);
      return undefined;
    }
    return a;
  }

  private put(key: string, obj: T): void {
    const old = this.store.get(key);
    this.store.set(key, obj);
    const index = this.options.index;
    if (!index) return;
    const before = old ? index(old) : undefined;
    const after = index(obj);
    if (before !== undefined && before !== after) this.unindex(before, key);
    if (after !== undefined) {
      let entries = this.indexed.get(after);
      if (!entries) this.indexed.set(after, (entries = new Map()));
      entries.set(key, obj);
    }
  }

  private remove(key: string): void {
    const old = this.store.get(key);
    this.store.delete(key);
    // Gone for good: no write of ours stands in for it any more, nor one whose answer comes later.
    this.assumed.delete(key);
    const uid = old?.metadata?.uid;
    if (uid) this.goneUids.set(uid, this.now());
    const value = old && this.options.index?.(old);
    if (value !== undefined) this.unindex(value, key);
  }

  private unindex(value: string, key: string): void {
    const entries = this.indexed.get(value);
    entries?.delete(key);
    if (entries?.size === 0) this.indexed.delete(value);
  }

  /** Cached objects, of one namespace or all. Frozen: never mutate them. */
  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata?.namespace ?? '') === namespace);
  }

  private listerWatcher(ns: string | undefined): ListerWatcher<T> {
    if (this.options.listerWatcher) return this.options.listerWatcher(ns);
    return restListerWatcher<T>(this.options.rest as RestClient, {
      apiVersion: this.options.apiVersion,
      kind: this.options.kind,
      namespace: ns,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
      ...(this.options.metadataOnly ? { metadataOnly: true } : {}),
      ...(this.options.withoutSpec ? { withoutSpec: true } : {}),
      ...(this.options.inactivityTimeoutMs !== undefined ? { inactivityTimeoutMs: this.options.inactivityTimeoutMs } : {}),
    });
  }

  private log(level: 'info' | 'warn' | 'debug', message: string, fields: Record<string, unknown>): void {
    this.options.logger?.log(level, message, { informer: this.kind, ...fields });
  }

  private emit(fn: (h: InformerHandlers<T>) => void): void {
    for (const h of this.handlers) {
      try {
        fn(h);
      } catch (err) {
        this.log('warn', 'Informer handler failed', { err });
      }
    }
  }

  /** The object as the cache keeps it: transformed, its strings shared, frozen (never mutate it). */
  private cacheable(obj: T): T {
    return freezeForCache((this.options.transform ?? stripManagedFields)(obj));
  }

  private inScope(obj: T, ns: string | undefined): boolean {
    return ns === undefined || obj.metadata?.namespace === ns;
  }

  private replace(ns: string | undefined, items: T[]): void {
    const scoped = new Map([...this.store].filter(([, v]) => this.inScope(v, ns)));
    const { added, updated, deleted } = diffList(scoped, items);
    for (const obj of deleted) {
      this.remove(objectKey(obj));
      this.emit((h) => h.delete?.(obj));
    }
    // Items come as the cache keeps them: the lister applied `keep`.
    for (const obj of added) {
      this.put(objectKey(obj), obj);
      this.emit((h) => h.add?.(obj));
    }
    for (const { obj, old } of updated) {
      this.put(objectKey(obj), obj);
      this.emit((h) => h.update?.(obj, old));
    }
  }

  private apply(event: WatchEvent<T>): void {
    const key = objectKey(event.object);
    const old = this.store.get(key);
    if (event.type === 'DELETED') {
      if (old) this.remove(key);
      const last = this.cacheable(event.object);
      this.emit((h) => h.delete?.(last));
      return;
    }
    let obj: T;
    if (event.cached) {
      obj = event.object;
      this.reusedEchoes++;
    } else obj = this.cacheable(event.object);
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined) this.echoes.delete(rv);
    if (old && old.metadata?.resourceVersion === rv) return;
    this.put(key, obj);
    if (old) this.emit((h) => h.update?.(obj, old));
    else this.emit((h) => h.add?.(obj));
  }

  private markSynced(scope: string): void {
    this.synced.add(scope);
    if (this.hasSynced()) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(ns: string | undefined): Promise<void> {
    const signal = this.abort.signal;
    const lw = this.listerWatcher(ns);
    const backoff = new ReconnectBackoff(this.now);
    const scope = ns ?? '*';
    const minHealthy = this.options.minHealthyWatchMs ?? 1000;
    let resourceVersion = '';
    let needList = true;
    while (!signal.aborted) {
      if (needList) {
        try {
          const list = await lw.list(signal, (o) => this.cacheable(o));
          if (signal.aborted) break;
          this.replace(ns, list.items);
          resourceVersion = list.resourceVersion;
          needList = false;
          this.log('debug', 'Listed objects', { namespace: ns, count: list.items.length, resourceVersion });
          this.markSynced(scope);
        } catch (err) {
          if (signal.aborted) break;
          const delay = backoff.next();
          this.log('warn', 'Failed to list; retrying', { namespace: ns, err, retryInMs: delay });
          await this.sleep(delay, signal);
          continue;
        }
      }
      const started = this.now();
      let events = 0;
      // Counted on /metrics, so a soak can tell a watch that leaks from one that is reopened.
      this.m.watchesOpen.inc({ kind: this.kind });
      let end: WatchEnd;
      try {
        end = await lw.watch(
          resourceVersion,
          (event) => {
            events++;
            const rv = event.object.metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            if (event.type !== 'BOOKMARK') this.apply(event);
          },
          signal,
          (rv) => this.echoes.get(rv),
        );
      } finally {
        this.m.watchesOpen.dec({ kind: this.kind });
      }
      this.m.watchEnds.inc({ kind: this.kind, reason: end.kind });
      if (signal.aborted || end.kind === 'stopped') break;
      if (end.kind === 'gone') {
        this.log('info', 'Watch expired; relisting', { namespace: ns, resourceVersion });
        needList = true;
        continue;
      }
      if (end.kind === 'closed' && (events > 0 || this.now() - started >= minHealthy)) {
        continue; // The server ended a healthy watch (timeoutSeconds): re-watch at once.
      }
      // A watch that delivered events or ran a while before it broke had found the server healthy: a
      // connection cut by a load balancer or a proxy is no reason to wait longer each time. Without
      // this, cuts a minute apart (client-go resets only after two quiet minutes) climb to 30 s of
      // blindness per cut.
      if (events > 0 || this.now() - started >= (this.options.healthyWatchMs ?? HEALTHY_WATCH_MS)) backoff.reset();
      const delay = backoff.next();
      if (end.kind === 'error') this.log('warn', 'Watch failed; reconnecting', { namespace: ns, err: end.error, retryInMs: delay });
      else this.log('info', 'Watch went quiet; reconnecting', { namespace: ns, reason: end.kind, retryInMs: delay });
      await this.sleep(delay, signal);
    }
  }
}
