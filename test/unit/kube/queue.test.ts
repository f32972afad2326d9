import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  BACKOFF_MAX_MS,
  ExponentialBackoff,
  HIGH_BURST,
  MAX_BUSY_MS,
  TokenBucket,
  WorkQueue,
  type Handler,
  type HandlerResult,
} from '../../../operator/src/kube/queue.ts';
import { createMetrics, type Metrics } from '../../../operator/src/observability/metrics.ts';
import { deferred, FakeClock, settle } from '../support/fake-clock.ts';

function newMetrics(): Metrics {
  return createMetrics(new Registry(), { defaultMetrics: false });
}

async function value(m: Metrics, metric: string, labels: Record<string, string>): Promise<number> {
  const json = await m.registry.getSingleMetric(metric)?.get();
  const hit = json?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && !('le' in v.labels));
  return hit?.value ?? 0;
}

/** A handler that records calls and blocks each run until the test releases it. */
function gatedHandler(): {
  handler: Handler;
  calls: string[];
  running: Map<string, number>;
  maxPerKey: Map<string, number>;
  release: (key: string, result?: HandlerResult | Error) => void;
  active: () => number;
} {
  const calls: string[] = [];
  const running = new Map<string, number>();
  const maxPerKey = new Map<string, number>();
  const gates = new Map<string, Array<ReturnType<typeof deferred<HandlerResult | void>>>>();
  const handler: Handler = async (key) => {
    calls.push(key);
    running.set(key, (running.get(key) ?? 0) + 1);
    maxPerKey.set(key, Math.max(maxPerKey.get(key) ?? 0, running.get(key) ?? 0));
    const d = deferred<HandlerResult | void>();
    const list = gates.get(key) ?? [];
    list.push(d);
    gates.set(key, list);
    try {
      return await d.promise;
    } finally {
      running.set(key, (running.get(key) ?? 1) - 1);
    }
  };
  return {
    handler,
    calls,
    running,
    maxPerKey,
    release(key, result) {
      const d = gates.get(key)?.shift();
      assert.ok(d, `no run of ${key} is waiting`);
      if (result instanceof Error) d.reject(result);
      else d.resolve(result);
    },
    active: () => [...running.values()].reduce((a, b) => a + b, 0),
  };
}

describe('WorkQueue', () => {
  it('de-duplicates: a key queued several times before it starts runs once', async () => {
    const clock = new FakeClock();
    const g = gatedHandler();
    const q = new WorkQueue({ name: 'dedupe', handler: g.handler, concurrency: 1, clock, metrics: newMetrics() });
    q.add('ns/blocker');
    await settle();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    assert.equal(q.len(), 1);
    g.release('ns/blocker');
    await settle();
    g.release('ns/a');
    await settle();
    assert.deepEqual(g.calls, ['ns/blocker', 'ns/a']);
    assert.equal(q.len(), 0);
  });

  it('never runs one key on two workers, and runs it again once if it was added while running', async () => {
    const clock = new FakeClock();
    const g = gatedHandler();
    const q = new WorkQueue({ name: 'serial', handler: g.handler, concurrency: 4, clock, metrics: newMetrics() });
    q.add('ns/a');
    await settle();
    assert.deepEqual(g.calls, ['ns/a']);
    // Changes arrive while ns/a runs; workers are free, yet none may take ns/a.
    q.add('ns/a');
    q.add('ns/a');
    await settle();
    assert.deepEqual(g.calls, ['ns/a']);
    assert.equal(q.len(), 1, 'the re-add is remembered');
    g.release('ns/a');
    await settle();
    assert.deepEqual(g.calls, ['ns/a', 'ns/a'], 'runs again afterwards, once');
    g.release('ns/a');
    await settle();
    assert.deepEqual(g.calls, ['ns/a', 'ns/a']);
    assert.equal(g.maxPerKey.get('ns/a'), 1);
  });

  it('runs at most `concurrency` handlers at once and different keys in parallel', async () => {
    const clock = new FakeClock();
    const g = gatedHandler();
    const m = newMetrics();
    const q = new WorkQueue({ name: 'conc', handler: g.handler, concurrency: 3, clock, metrics: m });
    for (let i = 0; i < 10; i++) q.add(`ns/k${i}`);
    await settle();
    assert.equal(g.active(), 3);
    assert.equal(await value(m, 'controller_runtime_active_workers', { controller: 'conc' }), 3);
    assert.equal(await value(m, 'controller_runtime_max_concurrent_reconciles', { controller: 'conc' }), 3);
    assert.equal(q.len(), 7);
    g.release('ns/k0');
    await settle();
    assert.equal(g.active(), 3);
    assert.deepEqual(g.calls, ['ns/k0', 'ns/k1', 'ns/k2', 'ns/k3'], 'keys start in the order they were added');
    for (let i = 1; i < 10; i++) {
      g.release(`ns/k${i}`);
      await settle();
    }
    assert.equal(g.calls.length, 10);
    assert.equal(q.active(), 0);
  });

  it('retries a failing key with per-key exponential backoff: 5 ms × 2^failures', async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    const delays: number[] = [];
    const q = new WorkQueue({
      name: 'backoff',
      handler: async () => {
        calls.push(clock.now());
        throw new Error('boom');
      },
      concurrency: 1,
      clock,
      metrics: newMetrics(),
      onError: (_k, _e, d) => delays.push(d),
    });
    q.add('ns/a');
    await settle();
    for (const step of [5, 10, 20, 40, 80]) {
      const before = calls.length;
      await clock.advance(step - 1);
      assert.equal(calls.length, before, `not retried before ${step} ms`);
      await clock.advance(1);
      assert.equal(calls.length, before + 1, `retried after ${step} ms`);
    }
    assert.deepEqual(delays, [5, 10, 20, 40, 80, 160]);
    const gaps = calls.slice(1).map((t, i) => t - (calls[i] ?? 0));
    assert.deepEqual(gaps, [5, 10, 20, 40, 80]);
    assert.equal(q.numRequeues('ns/a'), 6);
  });

  it('resets the backoff after a success', async () => {
    const clock = new FakeClock();
    const outcomes = [new Error('1'), new Error('2'), undefined, new Error('3')];
    const delays: number[] = [];
    const q = new WorkQueue({
      name: 'reset',
      handler: async () => {
        const o = outcomes.shift();
        if (o) throw o;
      },
      concurrency: 1,
      clock,
      metrics: newMetrics(),
      onError: (_k, _e, d) => delays.push(d),
    });
    q.add('ns/a');
    await settle();
    await clock.advance(5);
    await clock.advance(10);
    assert.equal(q.numRequeues('ns/a'), 0, 'success forgets the failures');
    q.add('ns/a');
    await settle();
    assert.deepEqual(delays, [5, 10, 5]);
  });

  it('keeps backoff per key: one failing key does not slow another', async () => {
    const clock = new FakeClock();
    const delays = new Map<string, number[]>();
    const q = new WorkQueue({
      name: 'perkey',
      handler: async (key) => {
        if (key === 'ns/bad') throw new Error('bad');
      },
      concurrency: 2,
      clock,
      metrics: newMetrics(),
      onError: (k, _e, d) => delays.set(k, [...(delays.get(k) ?? []), d]),
    });
    q.add('ns/bad');
    await settle();
    await clock.advance(5);
    await clock.advance(10);
    q.add('ns/good');
    await settle();
    assert.deepEqual(delays.get('ns/bad'), [5, 10, 20]);
    assert.equal(delays.get('ns/good'), undefined);
    assert.equal(q.numRequeues('ns/good'), 0);
  });

  it('bounds retries across keys with the 10/s burst 100 token bucket', async () => {
    const clock = new FakeClock();
    const delays: number[] = [];
    const q = new WorkQueue({
      name: 'bucket',
      handler: async () => {
        throw new Error('down');
      },
      concurrency: 100,
      clock,
      metrics: newMetrics(),
      onError: (_k, _e, d) => delays.push(d),
    });
    for (let i = 0; i < 102; i++) q.add(`ns/k${i}`);
    await settle(10);
    assert.equal(delays.length, 102);
    // The first 100 retries use the burst (5 ms backoff); then 10 per second.
    assert.deepEqual(delays.slice(0, 100), new Array(100).fill(5));
    assert.deepEqual(delays.slice(100).map((d) => Math.round(d)), [100, 200]);
  });

  it('requeueAfter runs the key again after the delay and resets its backoff', async () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    let fail = true;
    const q = new WorkQueue({
      name: 'after',
      handler: async () => {
        calls.push(clock.now());
        if (fail) {
          fail = false;
          throw new Error('once');
        }
        return { requeueAfter: 30_000 };
      },
      concurrency: 1,
      clock,
      metrics: newMetrics(),
    });
    q.add('ns/a');
    await settle();
    await clock.advance(5);
    assert.equal(calls.length, 2);
    assert.equal(q.numRequeues('ns/a'), 0);
    await clock.advance(29_999);
    assert.equal(calls.length, 2);
    await clock.advance(1);
    assert.equal(calls.length, 3);
  });

  it('addAfter: the key waits for its time, and the earliest pending time wins', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    const q = new WorkQueue({ name: 'delay', handler: async (k) => void calls.push(k), concurrency: 1, clock, metrics: newMetrics() });
    q.addAfter('ns/a', 1000);
    q.addAfter('ns/a', 5000);
    q.addAfter('ns/b', 2000);
    q.addAfter('ns/b', 500);
    assert.equal(q.delayed(), 2);
    await clock.advance(499);
    assert.deepEqual(calls, []);
    await clock.advance(1);
    assert.deepEqual(calls, ['ns/b']);
    await clock.advance(500);
    assert.deepEqual(calls, ['ns/b', 'ns/a']);
    await clock.advance(10_000);
    assert.deepEqual(calls, ['ns/b', 'ns/a'], 'superseded timers do not fire');
    q.addAfter('ns/c', 0);
    await settle();
    assert.deepEqual(calls, ['ns/b', 'ns/a', 'ns/c'], 'no delay means now');
  });

  /** A queue of one worker held busy by ns/blocker, so that the keys added next wait in order. */
  async function busyQueue(name: string): Promise<{ clock: FakeClock; g: ReturnType<typeof gatedHandler>; q: WorkQueue }> {
    const clock = new FakeClock();
    const g = gatedHandler();
    const q = new WorkQueue({ name, handler: g.handler, concurrency: 1, clock, metrics: newMetrics() });
    q.add('ns/blocker');
    await settle();
    return { clock, g, q };
  }

  /** Finishes the running key `n` times, letting the next one start each time. */
  async function finish(g: ReturnType<typeof gatedHandler>, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      g.release(g.calls.at(-1)!);
      await settle();
    }
  }

  it('takes high keys before normal ones, in the order they came', async () => {
    const { g, q } = await busyQueue('lanes');
    q.add('ns/n1');
    q.add('ns/n2');
    q.add('ns/h1', { priority: 'high' });
    q.add('ns/h2', { priority: 'high' });
    await finish(g, 5);
    assert.deepEqual(g.calls, ['ns/blocker', 'ns/h1', 'ns/h2', 'ns/n1', 'ns/n2']);
  });

  it(`never starves the normal lane: one normal key after ${HIGH_BURST} high ones in a row`, async () => {
    const { g, q } = await busyQueue('starve');
    q.add('ns/n1');
    q.add('ns/n2');
    const high = Array.from({ length: 2 * HIGH_BURST + 1 }, (_, i) => `ns/h${i}`);
    for (const k of high) q.add(k, { priority: 'high' });
    await finish(g, 3 + high.length);
    assert.deepEqual(g.calls, ['ns/blocker', ...high.slice(0, HIGH_BURST), 'ns/n1', ...high.slice(HIGH_BURST, 2 * HIGH_BURST), 'ns/n2', ...high.slice(2 * HIGH_BURST)]);
  });

  it('raises a queued normal key to high, and never lowers a high one', async () => {
    const { g, q } = await busyQueue('raise');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/c', { priority: 'high' });
    q.add('ns/b', { priority: 'high' });
    q.add('ns/c');
    // Added again while it runs, as high: it runs again before the waiting normal key.
    q.add('ns/blocker', { priority: 'high' });
    assert.equal(q.len(), 4, 'each key queued once');
    await finish(g, 5);
    assert.deepEqual(g.calls, ['ns/blocker', 'ns/c', 'ns/b', 'ns/blocker', 'ns/a']);
  });

  it('addAfter with high priority: the key joins the high lane when its time comes; the earliest time and the highest priority win', async () => {
    const { clock, g, q } = await busyQueue('delay-high');
    q.addAfter('ns/h', 1000, { priority: 'high' });
    q.addAfter('ns/h', 3000);
    q.addAfter('ns/r', 500);
    q.addAfter('ns/r', 2000, { priority: 'high' });
    q.add('ns/n');
    await clock.advance(1000);
    assert.equal(q.delayed(), 0);
    await finish(g, 4);
    assert.deepEqual(g.calls, ['ns/blocker', 'ns/r', 'ns/h', 'ns/n'], 'both delayed keys are high, at their earliest times');
    await clock.advance(5000);
    assert.equal(g.calls.length, 4, 'superseded timers do not fire');
  });

  it('shutdown waits for in-flight work, drops queued and delayed keys, and refuses new ones', async () => {
    const clock = new FakeClock();
    const g = gatedHandler();
    const q = new WorkQueue({ name: 'shutdown', handler: g.handler, concurrency: 1, clock, metrics: newMetrics() });
    q.add('ns/a');
    await settle();
    q.add('ns/b');
    q.addAfter('ns/c', 100);
    let resolved: boolean | undefined;
    const done = q.shutdown(30_000).then((ok) => {
      resolved = ok;
    });
    q.add('ns/d');
    await settle();
    assert.equal(resolved, undefined, 'waits for ns/a');
    g.release('ns/a');
    await done;
    assert.equal(resolved, true);
    await clock.advance(1000);
    assert.deepEqual(g.calls, ['ns/a']);
    assert.equal(q.len(), 0);
  });

  it('shutdown gives up after its maximum wait and aborts the handler signal', async () => {
    const clock = new FakeClock();
    let signal: AbortSignal | undefined;
    const q = new WorkQueue({
      name: 'stuck',
      handler: (_k, ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
      concurrency: 1,
      clock,
      metrics: newMetrics(),
    });
    q.add('ns/a');
    await settle();
    let resolved: boolean | undefined;
    void q.shutdown(30_000).then((ok) => {
      resolved = ok;
    });
    await clock.advance(29_999);
    assert.equal(resolved, undefined);
    await clock.advance(1);
    assert.equal(resolved, false);
    assert.equal(signal?.aborted, true);
  });

  it('exports the controller-runtime and workqueue metrics', async () => {
    const clock = new FakeClock();
    const m = newMetrics();
    const g = gatedHandler();
    const q = new WorkQueue({ name: 'metrics', handler: g.handler, concurrency: 1, clock, metrics: m });
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/b');
    await settle();
    assert.equal(await value(m, 'workqueue_adds_total', { name: 'metrics' }), 2);
    assert.equal(await value(m, 'workqueue_depth', { name: 'metrics' }), 1);
    await clock.advance(3000);
    assert.equal(await value(m, 'workqueue_unfinished_work_seconds', { name: 'metrics' }), 3);
    assert.equal(await value(m, 'workqueue_longest_running_processor_seconds', { name: 'metrics' }), 3);
    g.release('ns/a', new Error('fail'));
    await settle();
    g.release('ns/b', { requeueAfter: 10 });
    await settle();
    await clock.advance(5);
    g.release('ns/a');
    await settle();
    await clock.advance(5);
    g.release('ns/b');
    await settle();
    assert.equal(await value(m, 'controller_runtime_reconcile_total', { controller: 'metrics', result: 'error' }), 1);
    assert.equal(await value(m, 'controller_runtime_reconcile_total', { controller: 'metrics', result: 'requeue_after' }), 1);
    assert.equal(await value(m, 'controller_runtime_reconcile_total', { controller: 'metrics', result: 'success' }), 2);
    assert.equal(await value(m, 'controller_runtime_reconcile_errors_total', { controller: 'metrics' }), 1);
    assert.equal(await value(m, 'workqueue_retries_total', { name: 'metrics' }), 1);
    assert.equal(await value(m, 'workqueue_depth', { name: 'metrics' }), 0);
    const text = await m.registry.metrics();
    for (const name of ['workqueue_queue_duration_seconds_count{name="metrics"} 4', 'workqueue_work_duration_seconds_count{name="metrics"} 4', 'controller_runtime_reconcile_time_seconds_count{controller="metrics"} 4']) {
      assert.ok(text.includes(name), `${name} in\n${text}`);
    }
  });

  it(`lets the event loop turn after ${MAX_BUSY_MS} ms of handlers that do no I/O`, async () => {
    // 100 handlers of 5 ms each, with nothing to wait for (a converged model's pass): a timer due
    // at once must fire while they run, not after all 500 ms of them.
    let ran = 0;
    let ranWhenTimerFired = -1;
    const q = new WorkQueue({
      name: 'busy',
      concurrency: 8,
      metrics: newMetrics(),
      handler: async () => {
        const end = performance.now() + 5;
        while (performance.now() < end);
        ran++;
      },
    });
    setTimeout(() => {
      ranWhenTimerFired = ran;
    }, 0);
    for (let i = 0; i < 100; i++) q.add(`ns/k${i}`);
    while (ran < 100) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ranWhenTimerFired >= 0 && ranWhenTimerFired <= 2 * Math.ceil(MAX_BUSY_MS / 5), `the timer fired after ${ranWhenTimerFired} of 100 handlers`);
    await q.shutdown(1000);
  });

  it('refuses a concurrency below 1', () => {
    assert.throws(() => new WorkQueue({ name: 'x', handler: async () => {}, concurrency: 0, metrics: newMetrics() }), /concurrency/);
  });
});

describe('ExponentialBackoff', () => {
  it('doubles from 5 ms and caps at 1000 s', () => {
    const b = new ExponentialBackoff();
    const got = Array.from({ length: 30 }, () => b.when('k'));
    assert.deepEqual(got.slice(0, 5), [5, 10, 20, 40, 80]);
    assert.equal(got[29], BACKOFF_MAX_MS);
    assert.equal(BACKOFF_MAX_MS, 1_000_000);
    b.forget('k');
    assert.equal(b.when('k'), 5);
  });
});

describe('TokenBucket', () => {
  it('grants the burst at once, then one token per 1/qps', () => {
    let now = 0;
    const b = new TokenBucket(10, 100, () => now);
    const first = Array.from({ length: 100 }, () => b.reserve());
    assert.ok(first.every((d) => d === 0));
    assert.equal(Math.round(b.reserve()), 100);
    assert.equal(Math.round(b.reserve()), 200);
    now += 1000;
    // 10 tokens came back; the two reservations above already spent two of them.
    const after = Array.from({ length: 8 }, () => b.reserve());
    assert.ok(after.every((d) => d === 0), String(after));
    assert.equal(Math.round(b.reserve()), 100);
  });
});
