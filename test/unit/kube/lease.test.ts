import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { decide, LeaderElector, microTime, nextSpec, type Lease } from '../../../operator/src/kube/lease.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';
import { FakeKube } from '../support/fake-kube.ts';
import { settle } from '../support/fake-clock.ts';

function lease(holder: string | undefined, durationSeconds = 15, rv = '1'): Lease {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns', resourceVersion: rv }, spec: { holderIdentity: holder, leaseDurationSeconds: durationSeconds, leaseTransitions: 3 } };
}

describe('decide', () => {
  const cases: Array<{ name: string; lease: Lease | undefined; now: number; observedAt: number; want: string }> = [
    { name: 'no lease: create it', lease: undefined, now: 0, observedAt: 0, want: 'create' },
    { name: 'mine: renew', lease: lease('me'), now: 100_000, observedAt: 0, want: 'renew' },
    { name: 'released (empty holder): take over at once', lease: lease(''), now: 1, observedAt: 0, want: 'takeover:released' },
    { name: 'no holder field: take over', lease: lease(undefined), now: 1, observedAt: 0, want: 'takeover:released' },
    { name: 'other, seen 14.999 s ago: wait', lease: lease('other'), now: 14_999, observedAt: 0, want: 'wait:other:1' },
    { name: 'other, seen 15 s ago: expired', lease: lease('other'), now: 15_000, observedAt: 0, want: 'takeover:expired' },
    { name: 'the lease duration in the record wins', lease: lease('other', 30), now: 20_000, observedAt: 0, want: 'wait:other:10000' },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const d = decide({ lease: tc.lease, identity: 'me', now: tc.now, observedAt: tc.observedAt, leaseDurationMs: 15_000 });
      const got = d.action === 'takeover' ? `takeover:${d.reason}` : d.action === 'wait' ? `wait:${d.holder}:${d.expiresInMs}` : d.action;
      assert.equal(got, tc.want);
    });
  }
});

describe('nextSpec', () => {
  const t = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
  it('creates with transitions 0', () => {
    assert.deepEqual(nextSpec({ action: 'create' }, undefined, 'me', t, 15_000), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: '2025-01-02T03:04:05.678000Z',
      renewTime: '2025-01-02T03:04:05.678000Z',
      leaseTransitions: 0,
    });
  });
  it('renews keeping acquireTime and transitions', () => {
    const got = nextSpec({ action: 'renew' }, { holderIdentity: 'me', acquireTime: 'A', leaseTransitions: 2 }, 'me', t, 15_000);
    assert.equal(got.acquireTime, 'A');
    assert.equal(got.leaseTransitions, 2);
    assert.equal(got.renewTime, microTime(t));
  });
  it('takes over counting a transition', () => {
    const got = nextSpec({ action: 'takeover', reason: 'expired' }, { holderIdentity: 'other', leaseTransitions: 2 }, 'me', t, 15_000);
    assert.equal(got.holderIdentity, 'me');
    assert.equal(got.leaseTransitions, 3);
  });
  it('writes MicroTime with six fractional digits', () => {
    assert.match(microTime(t), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });
});

/** Two electors on one FakeKube with a shared hand-moved clock. */
function elector(kube: FakeKube, identity: string, clock: { t: number }, log: string[], metrics = createMetrics(new Registry(), { defaultMetrics: false })): LeaderElector {
  return new LeaderElector({
    client: kube,
    namespace: 'ns',
    name: 'modelship-operator',
    identity,
    now: () => clock.t,
    wallNow: () => 1_700_000_000_000 + clock.t,
    random: () => 0,
    metrics,
    // Sleeps move the shared clock; yielding lets the other elector run.
    sleep: async (ms, signal) => {
      clock.t += ms;
      await new Promise((r) => setImmediate(r));
      return !signal.aborted;
    },
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => log.push(`${identity} stopped`),
  });
}

describe('LeaderElector', () => {
  it('creates the lease and leads; a second candidate waits', async () => {
    const kube = new FakeKube();
    const clock = { t: 0 };
    const log: string[] = [];
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const a = elector(kube, 'a', clock, log, metrics);
    void a.run();
    await settle();
    assert.deepEqual(log, ['a started']);
    assert.equal(a.isLeader(), true);
    assert.equal((await metrics.leaderElectionMasterStatus.get()).values[0]?.value, 1);
    const stored = kube.find<Lease>('coordination.k8s.io/v1', 'Lease', 'ns', 'modelship-operator');
    assert.equal(stored?.spec?.holderIdentity, 'a');
    assert.equal(stored?.spec?.leaseDurationSeconds, 15);

    const b = elector(kube, 'b', clock, log);
    void b.run();
    await settle(20);
    assert.equal(b.isLeader(), false, 'a keeps renewing, so b never sees the lease expire');
    await a.stop();
    await b.stop();
  });

  it('release() hands over at once: the standby takes the lease on its next try', async () => {
    const kube = new FakeKube();
    const clock = { t: 0 };
    const log: string[] = [];
    const a = elector(kube, 'a', clock, log);
    void a.run();
    await settle();
    const b = elector(kube, 'b', clock, log);
    assert.equal(await b.tryAcquireOrRenew(), false);
    await a.release();
    assert.equal(kube.find<Lease>('coordination.k8s.io/v1', 'Lease', 'ns', 'modelship-operator')?.spec?.holderIdentity, '');
    assert.equal(await b.tryAcquireOrRenew(), true, 'no need to wait for expiry');
    assert.deepEqual(log, ['a started', 'a stopped']);
  });

  it('takes over a lease whose holder stopped renewing, once it expired', async () => {
    const kube = new FakeKube();
    kube.seed({ ...lease('dead'), metadata: { name: 'modelship-operator', namespace: 'ns' } });
    const clock = { t: 0 };
    const b = elector(kube, 'b', clock, []);
    assert.equal(await b.tryAcquireOrRenew(), false, 'first sight starts the clock');
    clock.t += 14_000;
    assert.equal(await b.tryAcquireOrRenew(), false);
    clock.t += 1_000;
    assert.equal(await b.tryAcquireOrRenew(), true);
    const stored = kube.find<Lease>('coordination.k8s.io/v1', 'Lease', 'ns', 'modelship-operator');
    assert.equal(stored?.spec?.holderIdentity, 'b');
    assert.equal(stored?.spec?.leaseTransitions, 4);
  });

  it('gives up leadership when it cannot renew within the renew deadline', async () => {
    const kube = new FakeKube();
    const clock = { t: 0 };
    const log: string[] = [];
    const a = elector(kube, 'a', clock, log);
    const running = a.run();
    await settle();
    assert.equal(a.isLeader(), true);
    // The API server goes away: every read fails from now on.
    // The last successful renew was at most one retry period before this point.
    const lastRenew = clock.t;
    for (let i = 0; i < 10; i++) kube.failNext('get', new Error('connection refused'));
    await running;
    assert.equal(a.isLeader(), false);
    assert.deepEqual(log, ['a started', 'a stopped']);
    const lostAfter = clock.t - lastRenew;
    assert.ok(lostAfter >= 8_000 && lostAfter <= 12_000, `lost after the 10 s renew deadline (plus one retry period), at +${lostAfter} ms`);
  });

  it('loses a write race cleanly on 409 Conflict', async () => {
    const kube = new FakeKube();
    kube.seed({ ...lease(''), metadata: { name: 'modelship-operator', namespace: 'ns' } });
    const { apiError } = await import('../support/fake-kube.ts');
    kube.failNext('replace', apiError(409, 'Conflict'));
    const b = elector(kube, 'b', { t: 0 }, []);
    assert.equal(await b.tryAcquireOrRenew(), false);
    assert.equal(await b.tryAcquireOrRenew(), true);
  });

  it('refuses timings that cannot work', () => {
    assert.throws(
      () => new LeaderElector({ client: new FakeKube(), namespace: 'n', name: 'l', leaseDurationMs: 10_000, renewDeadlineMs: 10_000, onStartedLeading: () => {}, onStoppedLeading: () => {} }),
      /lease duration > renew deadline/,
    );
  });
});

describe('the renew deadline is a hard bound', () => {
  it('gives up at the renew deadline even when a renew request hangs, and fences writes from then on', async () => {
    // Real timers, short timings: what is measured is that a hung request cannot stretch leadership.
    let hang = false;
    const kube = new FakeKube();
    const client = new Proxy(kube, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'get' || typeof v !== 'function') return v;
        return (ref: never, options?: { signal?: AbortSignal }) =>
          hang
            ? new Promise((_, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true }))
            : (v as (r: never, o?: unknown) => Promise<unknown>).call(target, ref, options);
      },
    });
    const log: string[] = [];
    const started = performance.now();
    let lostAt = 0;
    const e = new LeaderElector({
      client,
      namespace: 'ns',
      name: 'l',
      identity: 'a',
      leaseDurationMs: 600,
      renewDeadlineMs: 400,
      retryPeriodMs: 50,
      metrics: createMetrics(new Registry(), { defaultMetrics: false }),
      onStartedLeading: () => log.push('started'),
      onStoppedLeading: () => {
        lostAt = performance.now();
        log.push('stopped');
      },
    });
    const running = e.run();
    while (!e.isLeader()) await new Promise((r) => setTimeout(r, 5));
    assert.equal(e.holdsLease(), true);
    hang = true;
    const hungAt = performance.now();
    await running;
    assert.deepEqual(log, ['started', 'stopped']);
    assert.equal(e.holdsLease(), false, 'the fence is closed');
    // The last renew was sent at most one retry period before the hang; leadership ends 400 ms after it.
    const held = lostAt - hungAt;
    assert.ok(held <= 400 + 50 + 100, `lost ${held.toFixed(0)} ms after renews started hanging (renew deadline 400 ms)`);
    assert.ok(lostAt - started < 5_000);
  });

  it('holdsLease turns false by the clock alone, before the renew loop runs (a frozen process)', async () => {
    const kube = new FakeKube();
    const clock = { t: 0 };
    const a = elector(kube, 'a', clock, []);
    void a.run();
    await settle();
    assert.equal(a.holdsLease(), true);
    // The process was stopped for 30 s: no timer has fired yet, but the fence is closed.
    clock.t += 30_000;
    assert.equal(a.holdsLease(), false);
    assert.equal(a.isLeader(), true, 'the renew loop has not noticed yet');
    await a.stop();
  });
});

