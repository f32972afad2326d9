// Scenarios 2–4: the watches break in the three ways real clusters break them, while specs change.
//   2. Cut mid-stream every 10 s for a minute (a load balancer's idle or rebalancing cuts).
//   3. Hung: the connection stays open and carries no byte (a half-dead NAT entry or proxy).
//   4. Expired: etcd compacted past the resourceVersion the operator resumes from (410 Gone).
// Each time, every change converges, and the latency of a change is compared with the same change
// without the fault.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startExtraApiserver } from '../cluster/cluster.ts';
import { auditOffset, eventually, installCrd, useNamespace } from '../integration/harness.ts';
import { startOperator, type OperatorProcess } from '../integration/operator.ts';
import {
  adminClient,
  assertNoDuplicates,
  ChangeTracker,
  compactEtcd,
  createFleet,
  faultyPath,
  figures,
  INFORMERS,
  kubeconfigAt,
  metricOf,
  peakRssMiB,
  quantile,
  waitConverged,
  writesOf,
  type FaultyPath,
} from './support.ts';
import { Toxiproxy } from './toxiproxy.ts';

const CUT_EVERY_S = 10;
const CUT_FOR_S = Number(process.env.MODELSHIP_FAULTS_CUT_SECONDS ?? 60);
const INACTIVITY_S = 10;

interface Setup {
  ns: string;
  op: OperatorProcess;
  tracker: ChangeTracker;
  names: string[];
}

/** A fleet converged at v1 under an operator that uses `kubeconfig`. */
async function fleetUnder(t: TestContext, kubeconfig: string, models: number, args: string[] = []): Promise<Setup> {
  const ns = useNamespace(t, 'watch');
  const op = await startOperator({ name: `watch-${ns}`, kubeconfig, args: ['--leader-elect=false', `--watch-namespaces=${ns}`, ...args] });
  t.after(() => op.stop('SIGKILL'));
  const client = adminClient();
  const names = Array.from({ length: models }, (_, i) => `w-${i}`);
  await createFleet(client, ns, names, 'v1');
  const initial = new Map(names.map((n) => [n, 'v1']));
  await waitConverged(client, ns, initial, 120_000);
  return { ns, op, tracker: new ChangeTracker(client, ns, initial), names };
}

/** The latency of a few changes made one at a time with no fault: the baseline of the ratios. */
async function baseline(s: Setup, count = 4): Promise<number[]> {
  const before = s.tracker.latencies.length;
  for (let i = 0; i < count; i++) {
    await s.tracker.change(s.names[i % s.names.length] as string);
    await s.tracker.settle(60_000);
  }
  return s.tracker.latencies.slice(before);
}

describe('faults: watches', () => {
  before(() => installCrd());

  it(`converges every change while the watches are cut mid-stream every ${CUT_EVERY_S} s for ${CUT_FOR_S} s`, async (t) => {
    const user = `fault-cut-${randomBytes(3).toString('hex')}`;
    const path: FaultyPath = await faultyPath(user);
    t.after(() => path.close());
    const s = await fleetUnder(t, path.kubeconfig, 20);
    const cleanMark = auditOffset();
    const clean = await baseline(s);
    const cleanWrites = writesOf(user, cleanMark);
    const from = s.tracker.latencies.length;
    const mark = auditOffset();
    const cuts: number[] = [];
    const cutting = (async () => {
      for (let elapsed = 0; elapsed < CUT_FOR_S; elapsed += CUT_EVERY_S) {
        await sleep(CUT_EVERY_S * 1000);
        cuts.push(path.proxy.cutWatches());
      }
    })();
    const changes = await s.tracker.churn(s.names, 700, cutting);
    const endedAt = performance.now();
    await s.tracker.settle(120_000);
    const tailS = (performance.now() - endedAt) / 1000;
    await assertNoDuplicates(adminClient(), s.ns);
    // Every cut found the watches open again: the operator had reconnected each time.
    assert.equal(cuts.length, Math.ceil(CUT_FOR_S / CUT_EVERY_S));
    assert.ok(cuts.every((n) => n >= 1), `a cut found no watch open: ${cuts.join(', ')}`);
    assert.ok(cuts.reduce((a, b) => a + b, 0) >= INFORMERS, 'the watches were cut');
    assert.equal(s.op.child.exitCode, null, 'the operator kept running');
    const faulty = s.tracker.latencies.slice(from);
    figures(t, 'S2 watch-cuts', {
      cuts: cuts.join('+'),
      changes,
      cleanP50S: quantile(clean, 0.5),
      faultyP50S: quantile(faulty, 0.5),
      faultyMaxS: Math.max(...faulty),
      timeRatioP50: quantile(faulty, 0.5) / quantile(clean, 0.5),
      tailAfterLastCutS: tailS,
      writes: writesOf(user, mark),
      writesPerChange: writesOf(user, mark) / Math.max(1, changes),
      cleanWritesPerChange: cleanWrites / clean.length,
      watchErrors: await metricOf(s.op, 'modelship_watch_ends_total', 'reason="error"'),
      peakRssMiB: peakRssMiB(s.op.child.pid),
    });
  });

  it(`notices a hung watch (no byte, no close) within the ${INACTIVITY_S} s inactivity timeout, reconnects and misses nothing`, async (t) => {
    const user = `fault-hang-${randomBytes(3).toString('hex')}`;
    const path = await faultyPath(user);
    t.after(() => path.close());
    const s = await fleetUnder(t, path.kubeconfig, 5, [`--watch-inactivity-timeout-seconds=${INACTIVITY_S}`]);
    const clean = await baseline(s, 3);
    const silentBefore = await metricOf(s.op, 'modelship_watch_ends_total', 'reason="silent"');
    const mark = auditOffset();
    const hung = path.proxy.hangWatches();
    assert.ok(hung >= INFORMERS, `only ${hung} watches were open to hang`);
    // Made while every watch is hung: only a reconnect can bring them to the operator.
    const start = performance.now();
    for (const n of s.names.slice(0, 3)) await s.tracker.change(n);
    await s.tracker.settle(INACTIVITY_S * 1000 + 60_000);
    const convergedS = (performance.now() - start) / 1000;
    const detected = path.proxy.stats.hangDetectedMs.map((ms) => ms / 1000);
    assert.ok(detected.length >= hung, `only ${detected.length} of ${hung} hung watches were closed by the operator`);
    // Detected by the operator's own timer (not a server timeout, minutes away), within it and its reconnect.
    assert.ok(Math.max(...detected) <= INACTIVITY_S + 3, `a hung watch was noticed only after ${Math.max(...detected).toFixed(1)} s`);
    const silent = (await metricOf(s.op, 'modelship_watch_ends_total', 'reason="silent"')) - silentBefore;
    assert.ok(silent >= INFORMERS, `the operator counted ${silent} silent watches`);
    // A watch with no events ends every INACTIVITY_S and is reopened 0.8 s later (the backoff), so
    // the count is read until it is whole, not at one instant that may fall in such a gap.
    await eventually('every informer to have its watch open again', () => path.proxy.openWatches() >= INFORMERS, 5_000, 100);
    const faulty = s.tracker.latencies.slice(-3);
    figures(t, 'S3 hung-watch', {
      hung,
      detectedMaxS: Math.max(...detected),
      convergedS,
      cleanP50S: quantile(clean, 0.5),
      timeRatio: convergedS / quantile(clean, 0.5),
      faultyMaxS: Math.max(...faulty),
      writes: writesOf(user, mark),
      peakRssMiB: peakRssMiB(s.op.child.pid),
    });
  });

  it('relists after etcd compacted past its resourceVersion (410 Gone) and misses no change made meanwhile', async (t) => {
    // The cluster's API server serves watches from its watch cache, which outlives a compaction;
    // one without it passes watches to etcd, as an API server under memory pressure or with a
    // short cache does, so the compaction expires them.
    const extra = await startExtraApiserver(['--watch-cache=false']);
    t.after(() => extra.stop());
    const toxi = await Toxiproxy.start(new URL(extra.server).host);
    t.after(() => toxi.stop());
    const user = `fault-compact-${randomBytes(3).toString('hex')}`;
    const kubeconfig = kubeconfigAt(`https://127.0.0.1:${toxi.listenPort}`, user, `compact-${user}.kubeconfig`);
    const s = await fleetUnder(t, kubeconfig, 6);
    const clean = await baseline(s, 3);
    const goneBefore = await metricOf(s.op, 'modelship_watch_ends_total', 'reason="gone"');

    // A full outage: every connection closed, new ones refused. Meanwhile, changes of every kind
    // land, and etcd forgets the history the operator would resume from.
    const mark = auditOffset();
    await toxi.setEnabled(false);
    const client = adminClient();
    const start = performance.now();
    for (const n of s.names.slice(0, 3)) await s.tracker.change(n);
    await createFleet(client, s.ns, ['w-new'], 'v1');
    s.tracker.latest.set('w-new', 'v1');
    await client.delete({ apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', namespace: s.ns, name: 'w-5' });
    s.tracker.latest.delete('w-5');
    const revision = await compactEtcd();
    await sleep(2000);
    await toxi.setEnabled(true);

    await s.tracker.settle(120_000);
    const convergedS = (performance.now() - start) / 1000;
    const gone = (await metricOf(s.op, 'modelship_watch_ends_total', 'reason="gone"')) - goneBefore;
    assert.ok(gone >= 1, 'no watch was told 410 Gone: the compaction did not expire it, so this proves nothing');
    assert.ok(s.op.output().some((l) => l.includes('Watch expired; relisting') && l.includes('"informer":"ModelDeployment"')), 'the ModelDeployment informer relisted');
    await eventually('the garbage collector to remove the deleted model\'s Deployment', async () => !(await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: s.ns, name: 'w-5' })));
    await assertNoDuplicates(client, s.ns);
    figures(t, 'S4 compaction', {
      compactedAt: revision,
      watchesGone: gone,
      convergedS,
      cleanP50S: quantile(clean, 0.5),
      timeRatio: convergedS / quantile(clean, 0.5),
      // Counted from both API servers' audit logs (the second one writes its own).
      writes: writesOf(user, mark),
      peakRssMiB: peakRssMiB(s.op.child.pid),
    });
  });
});
