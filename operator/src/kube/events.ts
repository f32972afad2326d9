// Events on the objects we manage, as core/v1 Events (what `kubectl describe` shows). Generic:
// the reasons are the caller's (CamelCase, past tense for what happened).
// Like client-go's EventCorrelator, simplified:
// - an identical event (same object, type, reason, message) is not created again: the existing
//   Event's count and lastTimestamp are patched ("x5 over 3m");
// - a spam filter allows each object a burst of 25 events, then one every 5 minutes.
// Recording never throws and never blocks a reconcile: the write happens in the background.
import { hostname } from 'node:os';
import type { KubeClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';

export type EventType = 'Normal' | 'Warning';

/** The object an event is about. */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata?: { namespace?: string; name?: string; uid?: string; resourceVersion?: string };
}

export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  involvedObject: { apiVersion?: string; kind?: string; namespace?: string; name?: string; uid?: string; resourceVersion?: string };
  reason: string;
  message: string;
  type: EventType;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
}

export const COMPONENT = 'modelship-operator';
export const MAX_MESSAGE_LENGTH = 1024;
const SPAM_BURST = 25;
const SPAM_REFILL_MS = 5 * 60 * 1000;
const MAX_CACHE = 4096;

/** Identical events share this key. Pure. */
export function correlationKey(subject: EventSubject, type: EventType, reason: string, message: string): string {
  const m = subject.metadata ?? {};
  return [subject.apiVersion, subject.kind, m.namespace, m.name, m.uid, type, reason, truncate(message)].join('\u0000');
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_MESSAGE_LENGTH - 3)}...`;
}

/** metav1.Time: RFC 3339 in seconds. */
function time(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A new Event for a first occurrence. Pure. */
export function newEvent(subject: EventSubject, type: EventType, reason: string, message: string, nowMs: number, seq: number, host?: string, component: string = COMPONENT): CoreEvent {
  const m = subject.metadata ?? {};
  const name = m.name ?? 'unknown';
  // client-go names events "<object>.<unix nanos in hex>"; seq keeps same-millisecond events apart.
  const nanos = BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(seq % 1_000_000);
  const involvedObject: CoreEvent['involvedObject'] = { apiVersion: subject.apiVersion, kind: subject.kind, namespace: m.namespace, name: m.name, uid: m.uid };
  if (m.resourceVersion) involvedObject.resourceVersion = m.resourceVersion;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${nanos.toString(16)}`, namespace: m.namespace || 'default' },
    involvedObject,
    reason,
    message: truncate(message),
    type,
    count: 1,
    firstTimestamp: time(nowMs),
    lastTimestamp: time(nowMs),
    source: host ? { component, host } : { component },
  };
}

/** Per-object token bucket: burst 25, one token back every 5 minutes. */
export class SpamFilter {
  private readonly buckets = new Map<string, { tokens: number; last: number }>();
  private readonly burst: number;
  private readonly refillMs: number;

  constructor(burst = SPAM_BURST, refillMs = SPAM_REFILL_MS) {
    this.burst = burst;
    this.refillMs = refillMs;
  }

  allow(objectKey: string, now: number): boolean {
    const b = this.buckets.get(objectKey) ?? { tokens: this.burst, last: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.last) / this.refillMs);
    b.last = now;
    this.buckets.delete(objectKey);
    this.buckets.set(objectKey, b);
    if (this.buckets.size > MAX_CACHE) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

export interface EventRecorderOptions {
  client: KubeClient;
  logger?: Logger;
  /** Wall-clock ms. */
  now?: () => number;
  host?: string;
  /** source.component of the Events; default "modelship-operator". */
  component?: string;
  spamFilter?: SpamFilter;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly host: string;
  private readonly component: string;
  private readonly spam: SpamFilter;
  /** Correlation key → the Event that carries it (LRU by insertion order). */
  private readonly seen = new Map<string, Seen>();
  /** Correlation key → the write in progress, so repeats of one event are applied in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private seq = 0;
  private dropped = 0;

  constructor(options: EventRecorderOptions) {
    this.client = options.client;
    this.logger = options.logger;
    this.now = options.now ?? (() => Date.now());
    this.host = options.host ?? hostname();
    this.component = options.component ?? COMPONENT;
    this.spam = options.spamFilter ?? new SpamFilter();
  }

  normal(subject: EventSubject, reason: string, message: string): void {
    this.event(subject, 'Normal', reason, message);
  }

  warning(subject: EventSubject, reason: string, message: string): void {
    this.event(subject, 'Warning', reason, message);
  }

  /** Records an event in the background. Never throws. */
  event(subject: EventSubject, type: EventType, reason: string, message: string): void {
    const now = this.now();
    const m = subject.metadata ?? {};
    const objectKey = [subject.kind, m.namespace, m.name, m.uid].join('/');
    if (!this.spam.allow(objectKey, now)) {
      this.dropped++;
      this.logger?.debug('Dropped an event over the per-object limit', { kind: subject.kind, namespace: m.namespace, name: m.name, reason });
      return;
    }
    const key = correlationKey(subject, type, reason, message);
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.write(key, subject, type, reason, message, now));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /** Events dropped by the spam filter since start. */
  droppedCount(): number {
    return this.dropped;
  }

  /** Resolves when every recorded event has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private async write(key: string, subject: EventSubject, type: EventType, reason: string, message: string, now: number): Promise<void> {
    const m = subject.metadata ?? {};
    try {
      const seen = this.seen.get(key);
      if (seen) {
        try {
          await this.client.mergePatch(
            { apiVersion: 'v1', kind: 'Event', namespace: seen.namespace, name: seen.name },
            { count: seen.count + 1, lastTimestamp: time(now) },
          );
          seen.count++;
          this.touch(key, seen);
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          // The Event expired (events live an hour): start a new one.
          this.seen.delete(key);
        }
      }
      const ev = newEvent(subject, type, reason, message, now, this.seq++, this.host, this.component);
      await this.client.create(ev);
      this.touch(key, { name: ev.metadata.name, namespace: ev.metadata.namespace, count: 1 });
    } catch (err) {
      this.logger?.warn('Failed to record an event', { kind: subject.kind, namespace: m.namespace, name: m.name, reason, err });
    }
  }

  private touch(key: string, seen: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, seen);
    if (this.seen.size > MAX_CACHE) this.seen.delete(this.seen.keys().next().value as string);
  }
}
