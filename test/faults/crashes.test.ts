// Scenario 6: the operator SIGKILLed at random points of its reconciles, 20 times in a row, while
// changes keep coming. After the last restart every ModelDeployment converges to its last change,
// no child is duplicated, and once converged the operator makes no write at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeconfigFor } from '../cluster/cluster.ts';
import { auditEvents, auditOffset, eventually, installCrd, useNamespace, WRITE_VERBS } from '../integration/harness.ts';
import { startOperator, type OperatorProcess } from '../integration/operator.ts';
import { adminClient, assertNoDuplicates, ChangeTracker, createFleet, figures, peakRssMiB, waitAutoscalersActive, waitConverged, writesOf } from './support.ts';

const KILLS = Number(process.env.MODELSHIP_FAULTS_KILLS ?? 20);
const MODELS = 30;
const STEADY_S = 15;
const KILL_WAIT_MS = 3000;

/** Scrapes the operator until a reconcile is in flight (true) or KILL_WAIT_MS pass (false); a scrape that fails tells nothing. */
function reconcileInFlight(op: OperatorProcess): Promise<boolean> {
  const active = async () => ((await op.metric('controller_runtime_active_workers', { controller: 'modeldeployment' })) ?? 0) > 0;
  return eventually('a reconcile in flight', active, KILL_WAIT_MS, 5).then(() => true, () => false);
}

describe('faults: operator crashes', () => {
  before(() => installCrd());

  it(`converges with no duplicate and no write once converged after being SIGKILLed ${KILLS} times mid-reconcile while changes keep coming`, async (t) => {
    const ns = useNamespace(t, 'crash');
    const user = `fault-crash-${randomBytes(3).toString('hex')}`;
    const kubeconfig = kubeconfigFor(user, ['system:masters']);
    const start = (name: string): Promise<OperatorProcess> =>
      startOperator({ name, kubeconfig, args: ['--leader-elect=false', `--watch-namespaces=${ns}`], env: { MODELSHIP_LOG_LEVEL: 'info' } });
    const client = adminClient();
    const names = Array.from({ length: MODELS }, (_, i) => `k-${i}`);
    await createFleet(client, ns, names, 'v1');
    const initial = new Map(names.map((n) => [n, 'v1']));

    // The baseline: a clean start with the whole fleet to converge.
    const cleanStart = performance.now();
    const first = await start('crash-clean');
    await waitConverged(client, ns, initial, 180_000);
    const cleanS = (performance.now() - cleanStart) / 1000;
    await first.stop();

    const tracker = new ChangeTracker(client, ns, initial);
    let stopChurn!: () => void;
    const churning = tracker.churn(names, 150, new Promise<void>((r) => (stopChurn = r)));
    let inFlight = 0;
    let rss = 0;
    for (let i = 0; i < KILLS; i++) {
      const op = await start(`crash-${i}`);
      t.after(() => op.stop('SIGKILL'));
      await sleep(200 + Math.random() * 1300);
      // Then kill at the first scrape that finds a reconcile running (within KILL_WAIT_MS): a
      // random moment alone falls between reconciles more often than in one, now that a pass
      // takes milliseconds and a change comes every 150 ms or more.
      if (await reconcileInFlight(op)) inFlight++;
      rss = Math.max(rss, peakRssMiB(op.child.pid));
      assert.equal(op.child.exitCode, null, `operator ${i} was still running when it was killed`);
      await op.stop('SIGKILL');
    }
    stopChurn();
    const changes = await churning;

    const lastStart = performance.now();
    const mark = auditOffset();
    const last = await start('crash-last');
    t.after(() => last.stop('SIGKILL'));
    await tracker.settle(300_000);
    const convergeS = (performance.now() - lastStart) / 1000;
    const converging = writesOf(user, mark);
    await assertNoDuplicates(client, ns);

    // The autoscalers' first metrics are one status write each, wherever the last restart fell.
    await waitAutoscalersActive(client, ns);
    await sleep(2000);
    const steady = auditOffset();
    await sleep(STEADY_S * 1000);
    const writes = auditEvents(steady, auditOffset()).filter((e) => e.user.username === user && WRITE_VERBS.has(e.verb));
    assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI} ${e.responseStatus?.code}`), [], 'the restarted operator wrote after it had converged');
    // Kills that found no reconcile running would prove less: most must have hit one.
    assert.ok(inFlight >= KILLS / 2, `only ${inFlight} of ${KILLS} kills found a reconcile in flight`);
    assert.equal(last.child.exitCode, null);
    figures(t, 'S6 crashes', {
      kills: KILLS,
      killsMidReconcile: inFlight,
      changes,
      cleanStartS: cleanS,
      convergeAfterLastRestartS: convergeS,
      timeRatio: convergeS / cleanS,
      writesToConverge: converging,
      writesOnceConverged: writes.length,
      peakRssMiB: Math.max(rss, peakRssMiB(last.child.pid)),
    });
  });
});
