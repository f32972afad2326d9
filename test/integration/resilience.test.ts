// The operator survives what production throws at it: the API server restarting under it, and
// the leader dying. Nothing is lost: every change made while it was cut off is converged.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startComponent, stopComponent } from '../cluster/cluster.ts';
import { applyMd, getMd, md, waitReady } from './controller-suite.ts';
import { eventually, getJson, installCrd, kubectl, useNamespace } from './harness.ts';
import { startOperator, type OperatorProcess } from './operator.ts';

const LEASE_DURATION_S = 15;
const RETRY_PERIOD_S = 2;

async function isLeader(op: OperatorProcess): Promise<boolean> {
  try {
    return (await op.metric('leader_election_master_status')) === 1;
  } catch {
    return false;
  }
}

describe('resilience', () => {
  before(() => installCrd());

  it('reconnects after kube-apiserver restarts and converges every change made meanwhile', async (t) => {
    const ns = useNamespace(t, 'res');
    const op = await startOperator({ name: 'restart', args: ['--leader-elect=false'] });
    t.after(() => op.stop());
    applyMd(ns, md('before', { replicas: 1 }));
    await waitReady(ns, 'before');

    await stopComponent('kube-apiserver');
    await sleep(5000);
    await startComponent('kube-apiserver');
    // The operator's watches are broken and backing off: these changes land while it is cut off.
    applyMd(ns, md('before', { replicas: 2, model: { uri: 's3://models/before/v2', format: 'sklearn' } }));
    applyMd(ns, md('during', { replicas: 1 }));

    const before2 = await waitReady(ns, 'before', 120_000);
    assert.equal(before2.status?.model?.uri, 's3://models/before/v2');
    assert.equal(before2.status?.readyReplicas, 2);
    await waitReady(ns, 'during', 120_000);

    // And after it has reconnected.
    applyMd(ns, md('after', { replicas: 1 }));
    kubectl(['scale', '-n', ns, 'mdep/during', '--replicas=2']);
    await waitReady(ns, 'after');
    await eventually('during to have 2 ready replicas', () => getMd(ns, 'during').status?.readyReplicas === 2);
    assert.equal(op.child.exitCode, null, 'the operator kept running');
    assert.ok(op.output().some((l) => /Watch (failed|went quiet); reconnecting|Failed to list/.test(l)), 'it noticed the outage and reconnected');
    const relists = op.output().filter((l) => l.includes('Watch expired; relisting')).length;
    t.diagnostic(`watches that got 410 Gone after the restart and relisted: ${relists}`);
  });

  it('fails over to the standby when the leader is killed, and hands over at once on SIGTERM', async (t) => {
    const ns = useNamespace(t, 'res');
    const lease = `failover-${randomBytes(3).toString('hex')}`;
    // startOperator puts the Lease in the default namespace.
    const args = ['--leader-elect=true', `--leader-election-id=${lease}`];
    const a = await startOperator({ name: 'leader-a', args });
    const b = await startOperator({ name: 'leader-b', args });
    t.after(async () => {
      await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
      kubectl(['delete', 'lease', lease, '-n', 'default', '--ignore-not-found']);
    });
    // Both are ready (caches synced); exactly one leads.
    const leader = await eventually('one leader', async () => {
      const [la, lb] = [await isLeader(a), await isLeader(b)];
      return la !== lb ? (la ? a : b) : undefined;
    }, 30_000);
    const standby = leader === a ? b : a;
    assert.ok(await standby.ready(), 'the standby reports ready too');

    applyMd(ns, md('fo', { replicas: 1 }));
    await waitReady(ns, 'fo');
    assert.ok(((await leader.metric('controller_runtime_reconcile_total', { controller: 'modeldeployment', result: 'success' })) ?? 0) > 0, 'the leader reconciled');
    assert.equal((await standby.metric('controller_runtime_reconcile_total', { controller: 'modeldeployment', result: 'success' })) ?? 0, 0, 'the standby did not');

    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await eventually('the standby to take over', () => isLeader(standby), (LEASE_DURATION_S + 3 * RETRY_PERIOD_S) * 1000, 200);
    const takeover = (Date.now() - killedAt) / 1000;
    t.diagnostic(`takeover after SIGKILL: ${takeover.toFixed(1)} s (lease ${LEASE_DURATION_S} s)`);
    const held = getJson<{ spec: { holderIdentity: string; leaseDurationSeconds: number } }>(['get', 'lease', lease, '-n', 'default']);
    assert.equal(held.spec.leaseDurationSeconds, LEASE_DURATION_S);
    applyMd(ns, md('fo', { replicas: 2 }));
    await eventually('the new leader to converge a change', () => getMd(ns, 'fo').status?.readyReplicas === 2, 60_000);

    // A graceful stop releases the lease: a third replica takes over without waiting it out.
    const c = await startOperator({ name: 'leader-c', args });
    t.after(() => c.stop('SIGKILL'));
    const stoppedAt = Date.now();
    assert.equal(await standby.stop('SIGTERM'), 0, 'SIGTERM exits 0');
    await eventually('the third replica to take over', () => isLeader(c), 10_000, 200);
    const handover = (Date.now() - stoppedAt) / 1000;
    t.diagnostic(`handover after SIGTERM: ${handover.toFixed(1)} s`);
    assert.ok(handover < LEASE_DURATION_S, `released, not expired (${handover} s)`);
  });
});
