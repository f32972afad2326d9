// Scenario 7, `npm run soak` (not in `npm test`): ten minutes of churn (ModelDeployments created,
// changed and deleted continuously) with faults on all the while: 5 % of requests answered 500, 503
// or 429, 20 ms of added latency, the watches cut every minute, and a full outage of 5 s every
// three minutes. The operator's RSS, heap, timers and open watches are sampled every 10 s; they
// must not grow beyond the bounds below, and once the churn stops every surviving model converges
// to its last change with no child duplicated.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { installCrd, useNamespace } from '../integration/harness.ts';
import { startOperator } from '../integration/operator.ts';
import { adminClient, API_VERSION, assertNoDuplicates, faultyPath, figures, fleetMd, INFORMERS, peakRssMiB, sample, setVersion, waitConverged, type Sample } from './support.ts';
import type { ApplyTarget } from '../../operator/src/kube/client.ts';

const SOAK_S = Number(process.env.MODELSHIP_SOAK_SECONDS ?? 600);
const SAMPLE_EVERY_S = 10;
const ALIVE = 40;
/** The stated bounds: growth from the first third of the soak to the last. */
const HEAP_GROWTH_MIB = 30;
const RSS_GROWTH_MIB = 60;
const TIMER_GROWTH = 20;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

describe('soak', () => {
  before(() => installCrd());

  it(`keeps memory, timers and watches flat through ${SOAK_S} s of churn with faults on, then converges`, async (t) => {
    const ns = useNamespace(t, 'soak');
    const user = `fault-soak-${randomBytes(3).toString('hex')}`;
    const path = await faultyPath(user);
    t.after(() => path.close());
    const op = await startOperator({ name: 'soak', kubeconfig: path.kubeconfig, args: ['--leader-elect=false', `--watch-namespaces=${ns}`], env: { MODELSHIP_LOG_LEVEL: 'info' } });
    t.after(() => op.stop('SIGKILL'));
    const client = adminClient();
    const started = performance.now();
    const samples: Sample[] = [];
    const latest = new Map<string, string>();
    let serial = 0;
    const counts = { created: 0, updated: 0, deleted: 0, failed: 0, outages: 0, cuts: 0 };

    path.proxy.set({ errorRate: 0.05, codes: [500, 503, 429], retryAfterSeconds: 1 });
    await path.toxi.addToxic({ name: 'latency', type: 'latency', attributes: { latency: 20, jitter: 10 } });
    let running = true;
    const elapsed = (): number => (performance.now() - started) / 1000;

    const sampler = (async () => {
      while (running) {
        try {
          const s = await sample(op, started);
          samples.push(s);
          process.stderr.write(`[soak] t=${s.atS.toFixed(0)}s rss=${s.rssMiB.toFixed(0)}MiB heap=${s.heapMiB.toFixed(1)}/${s.heapTotalMiB.toFixed(0)}MiB external=${s.externalMiB.toFixed(1)}MiB timers=${s.timers} watches=${s.watches} models=${latest.size}\n`);
        } catch {
          // a scrape can fail; the next one counts
        }
        await sleep(SAMPLE_EVERY_S * 1000);
      }
    })();
    const faults = (async () => {
      // Every minute and every three minutes in the ten-minute soak; as often in proportion in a shorter one.
      const every = { cut: Math.min(60, SOAK_S / 6), outage: Math.min(180, SOAK_S / 3) };
      let next = { ...every };
      while (running) {
        await sleep(1000);
        if (elapsed() >= next.cut) {
          counts.cuts += path.proxy.cutWatches();
          next = { ...next, cut: next.cut + every.cut };
        }
        if (elapsed() >= next.outage) {
          await path.toxi.setEnabled(false);
          await sleep(5000);
          await path.toxi.setEnabled(true);
          counts.outages++;
          next = { ...next, outage: next.outage + every.outage };
        }
      }
    })();

    while (elapsed() < SOAK_S) {
      const names = [...latest.keys()];
      const roll = Math.random();
      try {
        if (names.length < ALIVE && (roll < 0.4 || names.length < ALIVE / 2)) {
          const name = `s-${serial++}`;
          await client.apply(fleetMd(ns, name, serial, 'v1') as unknown as ApplyTarget, { fieldManager: 'fault-tests' });
          latest.set(name, 'v1');
          counts.created++;
        } else if (roll < 0.8) {
          const name = names[Math.floor(Math.random() * names.length)] as string;
          const version = `v${serial++}`;
          await setVersion(client, ns, name, version);
          latest.set(name, version);
          counts.updated++;
        } else {
          const name = names[Math.floor(Math.random() * names.length)] as string;
          await client.delete({ apiVersion: API_VERSION, kind: 'ModelDeployment', namespace: ns, name });
          latest.delete(name);
          counts.deleted++;
        }
      } catch {
        counts.failed++;
      }
      await sleep(300);
    }

    // Faults off; every surviving model converges to its last change.
    path.proxy.set({ errorRate: 0 });
    await path.toxi.removeToxic('latency');
    const settleStart = performance.now();
    await waitConverged(client, ns, latest, 300_000);
    const settleS = (performance.now() - settleStart) / 1000;
    await sleep(15_000);
    const end = await sample(op, started);
    running = false;
    await Promise.all([sampler, faults]);
    await assertNoDuplicates(client, ns);

    // The first minute (or sixth) is warm-up: caches fill, code is compiled.
    const third = samples.filter((s) => s.atS >= Math.min(60, SOAK_S / 6) && s.atS < SOAK_S / 3);
    const last = samples.filter((s) => s.atS >= (2 * SOAK_S) / 3 && s.atS <= SOAK_S);
    assert.ok(third.length >= 3 && last.length >= 3, `too few samples (${samples.length}) to judge growth`);
    const heapEarly = median(third.map((s) => s.heapMiB));
    const heapLate = median(last.map((s) => s.heapMiB));
    const rssEarly = Math.max(...third.map((s) => s.rssMiB));
    const rssLate = Math.max(...last.map((s) => s.rssMiB));
    const timersEarly = median(third.map((s) => s.timers));
    figures(t, 'S7 soak', {
      seconds: SOAK_S,
      ...counts,
      settleS,
      heapEarlyMiB: heapEarly,
      heapLateMiB: heapLate,
      rssEarlyMaxMiB: rssEarly,
      rssLateMaxMiB: rssLate,
      peakRssMiB: peakRssMiB(op.child.pid),
      timersEarly,
      timersEnd: end.timers,
      watchesEnd: end.watches,
      maxWatches: Math.max(...samples.map((s) => s.watches)),
    });
    assert.ok(heapLate - heapEarly <= HEAP_GROWTH_MIB, `the heap grew by ${(heapLate - heapEarly).toFixed(1)} MiB (bound ${HEAP_GROWTH_MIB})`);
    assert.ok(rssLate - rssEarly <= RSS_GROWTH_MIB, `RSS grew by ${(rssLate - rssEarly).toFixed(1)} MiB (bound ${RSS_GROWTH_MIB})`);
    assert.ok(end.timers <= timersEarly + TIMER_GROWTH, `${end.timers} timers at the end against ${timersEarly} early: timers leak`);
    assert.equal(end.watches, INFORMERS, 'one watch per informer at the end: none leaked, none lost');
    assert.ok(Math.max(...samples.map((s) => s.watches)) <= INFORMERS, 'never more watches than informers');
    assert.ok(counts.created > ALIVE && counts.deleted > 0 && counts.updated > 0, 'the churn created, changed and deleted');
    assert.equal(op.child.exitCode, null, 'the operator kept running');
  });
});
