// Leader election on a coordination.k8s.io/v1 Lease, with client-go's timings and rules:
// - a lease held by someone else counts as expired leaseDuration after WE last saw it change
//   (local time, so clocks that disagree between nodes do not matter);
// - the leader renews every retryPeriod and gives up if it could not renew for renewDeadline
//   (every attempt is cut at that moment, and holdsLease() fences every write on it);
// - release() clears holderIdentity so a standby takes over at once.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../observability/logger.ts';
import { metrics as defaultMetrics, type Metrics } from '../observability/metrics.ts';
import type { KubeClient } from './client.ts';
import { isAlreadyExists, isConflict } from './errors.ts';
import { realSleep, type Sleep } from './informer.ts';
import type { KubeObject, ObjectRef } from './types.ts';

export const LEASE_DURATION_MS = 15_000;
export const RENEW_DEADLINE_MS = 10_000;
export const RETRY_PERIOD_MS = 2_000;
// client-go jitters the acquire retry by up to 20%.
const JITTER = 0.2;

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export type Decision =
  | { action: 'create' }
  | { action: 'renew' }
  | { action: 'takeover'; reason: 'released' | 'expired' }
  | { action: 'wait'; holder: string; expiresInMs: number };

export interface DecideInput {
  lease: Lease | undefined;
  identity: string;
  /** Local time now, ms. */
  now: number;
  /** Local time at which we last saw the lease record change, ms. */
  observedAt: number;
  /** Used when the lease does not say its own duration. */
  leaseDurationMs: number;
}

/** Can I take or keep the lease? Pure. */
export function decide(input: DecideInput): Decision {
  const spec = input.lease?.spec;
  if (!input.lease) return { action: 'create' };
  const holder = spec?.holderIdentity ?? '';
  if (holder === input.identity) return { action: 'renew' };
  if (holder === '') return { action: 'takeover', reason: 'released' };
  const durationMs = spec?.leaseDurationSeconds ? spec.leaseDurationSeconds * 1000 : input.leaseDurationMs;
  const expiresInMs = input.observedAt + durationMs - input.now;
  if (expiresInMs <= 0) return { action: 'takeover', reason: 'expired' };
  return { action: 'wait', holder, expiresInMs };
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The spec to write for a create/renew/takeover. Pure. */
export function nextSpec(decision: Decision, current: LeaseSpec | undefined, identity: string, wallNowMs: number, leaseDurationMs: number): LeaseSpec {
  const t = microTime(wallNowMs);
  const seconds = Math.round(leaseDurationMs / 1000);
  switch (decision.action) {
    case 'create':
      return { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: t, renewTime: t, leaseTransitions: 0 };
    case 'renew':
      return { ...current, holderIdentity: identity, leaseDurationSeconds: seconds, renewTime: t, acquireTime: current?.acquireTime ?? t };
    case 'takeover':
      return { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: t, renewTime: t, leaseTransitions: (current?.leaseTransitions ?? 0) + 1 };
    case 'wait':
      throw new Error('nextSpec: nothing to write while another holder has the lease.');
  }
}

/** controller-runtime's identity: hostname and a random suffix, so two processes on one host differ. */
export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Called once when leadership is lost or released. The process should stop reconciling. */
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
  logger?: Logger;
  metrics?: Metrics;
  /** Local monotonic time, ms. */
  now?: () => number;
  /** Wall-clock time for the lease record, ms. */
  wallNow?: () => number;
  sleep?: Sleep;
  random?: () => number;
}

export class LeaderElector {
  readonly identity: string;
  private readonly o: LeaderElectorOptions;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly m: Metrics;
  private readonly abort = new AbortController();
  private observedVersion: string | undefined;
  private observedAt = 0;
  private observedHolder = '';
  private leading = false;
  /** Local time until which the last successful renew lets us lead (see holdsLease). */
  private validUntil = 0;
  private running: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.o = options;
    this.identity = options.identity ?? defaultIdentity();
    this.leaseDurationMs = options.leaseDurationMs ?? LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? RETRY_PERIOD_MS;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs * (1 + JITTER))) {
      throw new Error('Leader election needs lease duration > renew deadline > retry period × 1.2.');
    }
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? (() => Date.now());
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.m = options.metrics ?? defaultMetrics;
    this.m.leaderElectionMasterStatus.set({ name: options.name }, 0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  private get ref(): ObjectRef {
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: this.o.namespace, name: this.o.name };
  }

  /** Campaigns, then renews until leadership is lost or stop()/release() is called. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    // Acquire.
    while (!signal.aborted) {
      if (await this.attempt(this.renewDeadlineMs)) break;
      await this.sleep(this.retryPeriodMs * (1 + JITTER * this.random()), signal);
    }
    if (signal.aborted) return;
    this.setLeading(true);
    this.o.logger?.info('Acquired the leader lease', { namespace: this.o.namespace, name: this.o.name, identity: this.identity });
    this.o.onStartedLeading();
    // Renew every retry period. Leadership holds until the renew deadline after the last renew
    // that succeeded (counted from when it was sent); every attempt is cut at that moment, so a
    // hung request cannot stretch it.
    while (!signal.aborted) {
      if (!(await this.sleep(this.retryPeriodMs, signal))) break;
      let renewed = false;
      while (!signal.aborted && this.holdsLease()) {
        if (await this.attempt(this.validUntil - this.now())) {
          renewed = true;
          break;
        }
        const wait = Math.min(this.retryPeriodMs, this.validUntil - this.now());
        if (wait <= 0 || !(await this.sleep(wait, signal))) break;
      }
      if (signal.aborted) break;
      if (!renewed) {
        this.o.logger?.error('Lost the leader lease: could not renew it within the renew deadline', { namespace: this.o.namespace, name: this.o.name });
        break;
      }
    }
    if (this.leading && !signal.aborted) this.lose();
  }

  /**
   * True while this replica may act as the leader: it leads, and its last renew was sent less than
   * the renew deadline ago. Checked before every write (a fence): a process that was frozen
   * (SIGSTOP, a long GC pause, a suspended VM) finds it false at once when it wakes, before its
   * renew loop has had a chance to notice, so it cannot write after a standby took over.
   */
  holdsLease(): boolean {
    return this.leading && this.now() < this.validUntil;
  }

  /** One acquire/renew, cut after `timeoutMs`. */
  private async attempt(timeoutMs: number): Promise<boolean> {
    if (timeoutMs <= 0) return false;
    const sentAt = this.now();
    const ok = await this.tryAcquireOrRenew(AbortSignal.timeout(Math.ceil(timeoutMs)));
    if (ok) this.validUntil = sentAt + this.renewDeadlineMs;
    return ok;
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    this.m.leaderElectionMasterStatus.set({ name: this.o.name }, v ? 1 : 0);
  }

  private lose(): void {
    this.setLeading(false);
    this.o.onStoppedLeading();
  }

  /** One attempt; true when we hold the lease afterwards. Never throws. */
  async tryAcquireOrRenew(signal: AbortSignal = AbortSignal.timeout(this.renewDeadlineMs)): Promise<boolean> {
    try {
      const lease = await this.o.client.get<Lease>(this.ref, { signal });
      const version = lease?.metadata?.resourceVersion;
      if (version !== this.observedVersion) {
        this.observedVersion = version;
        this.observedAt = this.now();
        const holder = lease?.spec?.holderIdentity ?? '';
        if (holder !== this.observedHolder) {
          this.observedHolder = holder;
          if (holder !== '' && holder !== this.identity) this.o.onNewLeader?.(holder);
        }
      }
      const decision = decide({ lease, identity: this.identity, now: this.now(), observedAt: this.observedAt, leaseDurationMs: this.leaseDurationMs });
      if (decision.action === 'wait') return false;
      const spec = nextSpec(decision, lease?.spec, this.identity, this.wallNow(), this.leaseDurationMs);
      const written: Lease =
        decision.action === 'create'
          ? await this.o.client.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec }, { signal })
          : await this.o.client.replace({ ...(lease as Lease), apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...lease?.metadata, name: this.o.name, namespace: this.o.namespace }, spec }, { signal });
      this.observedVersion = written.metadata?.resourceVersion;
      this.observedAt = this.now();
      this.observedHolder = this.identity;
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) {
        this.o.logger?.warn('Failed to acquire or renew the leader lease', { namespace: this.o.namespace, name: this.o.name, err });
      }
      return false;
    }
  }

  /** Stops campaigning/renewing without touching the lease (it expires on its own). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    if (this.leading) this.lose();
  }

  /** Graceful shutdown: stop, and if we lead, clear holderIdentity so a standby takes over at once. */
  async release(): Promise<void> {
    const wasLeading = this.leading;
    this.abort.abort();
    await this.running;
    if (!wasLeading) return;
    try {
      const lease = await this.o.client.get<Lease>(this.ref, { signal: AbortSignal.timeout(this.renewDeadlineMs) });
      if (lease && lease.spec?.holderIdentity === this.identity) {
        const t = microTime(this.wallNow());
        await this.o.client.replace(
          {
            ...lease,
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { ...lease.metadata, name: this.o.name, namespace: this.o.namespace },
            spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: t, renewTime: t },
          },
          { signal: AbortSignal.timeout(this.renewDeadlineMs) },
        );
        this.o.logger?.info('Released the leader lease', { namespace: this.o.namespace, name: this.o.name });
      }
    } catch (err) {
      this.o.logger?.warn('Failed to release the leader lease; it will expire', { namespace: this.o.namespace, name: this.o.name, err });
    } finally {
      if (this.leading) this.lose();
    }
  }
}
