// A work queue of keys ("namespace/name") with client-go's semantics:
// - a key is queued at most once (de-duplication);
// - a key is never processed by two workers at once;
// - a key added while it is being processed runs again once the current run ends;
// - a failed key comes back after max(per-key exponential backoff, overall token bucket);
// - addAfter() delays a key; the earliest pending time wins.
// Two lanes, as controller-runtime's priority queue has priorities: a key added with
// { priority: 'high' } (an existing model whose children changed) is taken before the keys of the
// normal lane (new specs, retries, the periodic resync), but never more than HIGH_BURST in a row
// while the normal lane waits, so neither lane can starve the other.
// p-queue only bounds how many handlers run at once; everything above is ours.
import PQueue from 'p-queue';
import { metrics as defaultMetrics, type Metrics } from '../observability/metrics.ts';

export type TimerHandle = unknown;

/** Time source, injectable so tests can move time by hand. Milliseconds throughout. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** What a handler asks for after a successful run. */
export interface HandlerResult {
  /** Run the key again after this many milliseconds (the failure count is reset). */
  requeueAfter?: number;
  /** Run the key again with rate limiting (backoff grows as if it had failed). */
  requeue?: boolean;
}

export interface HandlerContext {
  /** Aborted when shutdown() gives up waiting for in-flight work. */
  signal: AbortSignal;
}

/** Throwing means "retry with backoff". */
export type Handler = (key: string, ctx: HandlerContext) => Promise<HandlerResult | void>;

// client-go's DefaultTypedControllerRateLimiter.
export const BACKOFF_BASE_MS = 5;
export const BACKOFF_MAX_MS = 1000 * 1000;
export const BUCKET_QPS = 10;
export const BUCKET_BURST = 100;

/** Keys the high lane may take in a row while a normal key waits. */
export const HIGH_BURST = 4;

/**
 * The longest the queue starts handlers back to back before it lets the event loop turn (timers,
 * sockets, the probes' answers). A handler with nothing to do (a converged model: no write, nothing
 * read from the API server) ends within its microtasks, and the next one starts in the same chain:
 * Go's goroutines are preempted, promises are not. Without this, the first pass over 1,000 converged
 * models after a restart held the loop for about a second, over 10,000 for about 3 s at a time
 * (docs/performance.md).
 */
export const MAX_BUSY_MS = 20;

export type Priority = 'high' | 'normal';

export interface AddOptions {
  /** 'high' goes before the normal lane (bounded by HIGH_BURST); a queued key is raised, never lowered. */
  priority?: Priority;
}

/** Per-key exponential backoff: base × 2^failures, capped. */
export class ExponentialBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  private readonly failures = new Map<string, number>();

  constructor(baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** Delay for this failure, then counts it. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** golang.org/x/time/rate's reservation: a token is always taken; the delay says when it is ours. */
export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  private tokens: number;
  private last: number | undefined;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
  }

  reserve(): number {
    const t = this.now();
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}

export interface WorkQueueOptions {
  /** Queue name: the `name` label of workqueue_* and the `controller` label of controller_runtime_*. */
  name: string;
  handler: Handler;
  concurrency: number;
  clock?: Clock;
  metrics?: Metrics;
  /** Called when a handler throws (for logging); the key is retried regardless. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  bucketQps?: number;
  bucketBurst?: number;
}

export class WorkQueue {
  readonly name: string;
  readonly concurrency: number;
  private readonly handler: Handler;
  private readonly clock: Clock;
  private readonly m: Metrics;
  private readonly onError: WorkQueueOptions['onError'];
  private readonly backoff: ExponentialBackoff;
  private readonly bucket: TokenBucket;
  private readonly pool: PQueue;

  /** Keys waiting for a worker, in order, by lane. */
  private readonly lanes: Record<Priority, string[]> = { high: [], normal: [] };
  /** High keys taken in a row while the normal lane was not empty. */
  private highStreak = 0;
  /** Keys that need processing (queued, or re-added while processing): when first added, and their lane. */
  private readonly dirty = new Map<string, { addedAt: number; priority: Priority }>();
  /** Keys being processed. Value: when processing started. */
  private readonly processing = new Map<string, number>();
  /** Delayed keys. */
  private readonly waiting = new Map<string, { readyAt: number; priority: Priority; timer: TimerHandle }>();
  private shuttingDown = false;
  /** When the handlers' current run without a turn of the event loop began (real time). */
  private busySince: number | undefined;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private readonly untrack: () => void;

  constructor(options: WorkQueueOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`WorkQueue concurrency must be a whole number of at least 1, got ${options.concurrency}.`);
    }
    this.name = options.name;
    this.concurrency = options.concurrency;
    this.handler = options.handler;
    this.clock = options.clock ?? realClock;
    this.m = options.metrics ?? defaultMetrics;
    this.onError = options.onError;
    this.backoff = new ExponentialBackoff(options.backoffBaseMs, options.backoffMaxMs);
    this.bucket = new TokenBucket(options.bucketQps ?? BUCKET_QPS, options.bucketBurst ?? BUCKET_BURST, () => this.clock.now());
    this.pool = new PQueue({ concurrency: options.concurrency });
    this.m.maxConcurrentReconciles.set({ controller: this.name }, this.concurrency);
    this.m.activeWorkers.set({ controller: this.name }, 0);
    this.m.workqueueDepth.set({ name: this.name }, 0);
    this.untrack = this.m.trackInFlight({
      name: this.name,
      inFlightSeconds: () => [...this.processing.values()].map((start) => (this.clock.now() - start) / 1000),
    });
  }

  /**
   * Queues a key now, unless it is already queued (a high add raises a queued normal key). A key
   * being processed runs again afterwards.
   */
  add(key: string, opts: AddOptions = {}): void {
    if (this.shuttingDown) return;
    const priority = opts.priority ?? 'normal';
    const queued = this.dirty.get(key);
    if (queued) {
      if (priority === 'high' && queued.priority === 'normal') {
        queued.priority = 'high';
        const i = this.processing.has(key) ? -1 : this.lanes.normal.indexOf(key);
        if (i >= 0) {
          this.lanes.normal.splice(i, 1);
          this.lanes.high.push(key);
        }
      }
      return;
    }
    this.dirty.set(key, { addedAt: this.clock.now(), priority });
    this.m.workqueueAdds.inc({ name: this.name });
    this.updateDepth();
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues a key after a delay. An earlier pending time for the key wins; a high priority is kept. */
  addAfter(key: string, ms: number, opts: AddOptions = {}): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key, opts);
      return;
    }
    const priority = opts.priority ?? 'normal';
    const readyAt = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing && existing.readyAt <= readyAt) {
      if (priority === 'high') existing.priority = 'high';
      return;
    }
    if (existing) this.clock.clearTimeout(existing.timer);
    const entry = { readyAt, priority: existing?.priority === 'high' ? 'high' : priority, timer: undefined as TimerHandle };
    entry.timer = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key, { priority: entry.priority });
    }, ms);
    this.waiting.set(key, entry);
  }

  /** Queues a key after its backoff (per key, and the overall token bucket). Returns the delay. */
  addRateLimited(key: string): number {
    const delay = Math.max(this.backoff.when(key), this.bucket.reserve());
    this.m.workqueueRetries.inc({ name: this.name });
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  numRequeues(key: string): number {
    return this.backoff.failuresOf(key);
  }

  /** Keys queued or re-added while processing (workqueue_depth). */
  len(): number {
    return this.dirty.size;
  }

  /** Keys being processed now. */
  active(): number {
    return this.processing.size;
  }

  /** Keys scheduled for later. */
  delayed(): number {
    return this.waiting.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops taking keys: queued and delayed keys are dropped, in-flight handlers finish.
   * Resolves true when they have, or false after maxWaitMs (their signal is then aborted).
   */
  async shutdown(maxWaitMs: number): Promise<boolean> {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) this.clock.clearTimeout(w.timer);
    this.waiting.clear();
    this.pool.clear();
    this.lanes.high.length = 0;
    this.lanes.normal.length = 0;
    for (const key of this.dirty.keys()) if (!this.processing.has(key)) this.dirty.delete(key);
    this.updateDepth();
    const drained = this.processing.size === 0 ? Promise.resolve(true) : new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    let timer: TimerHandle | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = this.clock.setTimeout(() => resolve(false), maxWaitMs);
    });
    const ok = await Promise.race([drained, timeout]);
    this.clock.clearTimeout(timer);
    if (!ok) this.abort.abort(new Error(`Work queue ${this.name} shut down before the handler finished.`));
    this.untrack();
    return ok;
  }

  private push(key: string): void {
    this.lanes[this.dirty.get(key)?.priority ?? 'normal'].push(key);
    // One pool task per queued key; the task takes whichever key is next when it starts.
    void this.pool.add(() => this.runNext());
  }

  /** The next key: the high lane first, but a waiting normal key after HIGH_BURST high ones in a row. */
  private next(): string | undefined {
    const { high, normal } = this.lanes;
    if (high.length > 0 && (normal.length === 0 || this.highStreak < HIGH_BURST)) {
      if (normal.length > 0) this.highStreak++;
      return high.shift();
    }
    this.highStreak = 0;
    return normal.shift();
  }

  private updateDepth(): void {
    this.m.workqueueDepth.set({ name: this.name }, this.dirty.size);
  }

  /** Nothing when the handlers have held the event loop for less than MAX_BUSY_MS; else one turn of it. */
  private turn(): Promise<void> | undefined {
    const now = performance.now();
    if (this.busySince === undefined) {
      this.busySince = now;
      // Runs once the event loop turns: the microtasks that ran since then were not one long chain.
      setImmediate(() => {
        this.busySince = undefined;
      });
      return undefined;
    }
    return now - this.busySince < MAX_BUSY_MS ? undefined : new Promise((resolve) => setImmediate(resolve));
  }

  private async runNext(): Promise<void> {
    const turn = this.turn();
    if (turn) await turn;
    const key = this.next();
    if (key === undefined) return;
    const now = this.clock.now();
    const addedAt = this.dirty.get(key)?.addedAt ?? now;
    this.dirty.delete(key);
    this.updateDepth();
    this.processing.set(key, now);
    this.m.workqueueQueueDuration.observe({ name: this.name }, (now - addedAt) / 1000);
    this.m.activeWorkers.set({ controller: this.name }, this.processing.size);

    let result: HandlerResult | void = undefined;
    let failed = false;
    let error: unknown;
    try {
      result = await this.handler(key, { signal: this.abort.signal });
    } catch (err) {
      failed = true;
      error = err;
    }

    const seconds = (this.clock.now() - now) / 1000;
    this.m.workqueueWorkDuration.observe({ name: this.name }, seconds);
    this.m.reconcileTime.observe({ controller: this.name }, seconds);
    if (failed) {
      this.m.reconcileTotal.inc({ controller: this.name, result: 'error' });
      this.m.reconcileErrors.inc({ controller: this.name });
      const delay = this.shuttingDown ? 0 : this.addRateLimited(key);
      this.onError?.(key, error, delay);
    } else if (result && result.requeueAfter !== undefined && result.requeueAfter > 0) {
      this.m.reconcileTotal.inc({ controller: this.name, result: 'requeue_after' });
      this.forget(key);
      this.addAfter(key, result.requeueAfter);
    } else if (result && result.requeue) {
      this.m.reconcileTotal.inc({ controller: this.name, result: 'requeue' });
      this.addRateLimited(key);
    } else {
      this.m.reconcileTotal.inc({ controller: this.name, result: 'success' });
      this.forget(key);
    }
    this.done(key);
  }

  private done(key: string): void {
    this.processing.delete(key);
    this.m.activeWorkers.set({ controller: this.name }, this.processing.size);
    if (this.shuttingDown) this.dirty.delete(key);
    else if (this.dirty.has(key)) this.push(key);
    this.updateDepth();
    if (this.processing.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
