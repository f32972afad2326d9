// Leadership is exclusive: a leader frozen past its renew deadline (SIGSTOP: a long GC pause, a
// suspended VM, a node that stops scheduling it) must write nothing once it wakes, because a standby
// has taken over in the meantime. Proven from the audit log, while changes keep coming.
//
// One kind of write can still arrive after the takeover, and no check inside a process can stop it:
// one whose fence was checked before the freeze and whose bytes had not yet left (the instant
// between the check and the socket write: of 1-second freezes of a process writing without pause,
// one in 25 to 60 lands there; test/faults/fence.soak.ts). The operator checks the fence again
// right after each write leaves and reports such a write. So the proof is: every write of the old leader that the API
// server received after the takeover is one the old leader reported as let out by a pause at least
// as long as the freeze (its check came before the freeze); anything else fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { kubeconfigFor } from '../cluster/cluster.ts';
import { md, waitReady } from './controller-suite.ts';
import { auditEvents, auditOffset, eventually, installCrd, kubectl, useNamespace, WRITE_VERBS, type AuditEvent } from './harness.ts';
import { startOperator, type OperatorProcess } from './operator.ts';

async function isLeader(op: OperatorProcess): Promise<boolean> {
  try {
    return (await op.metric('leader_election_master_status')) === 1;
  } catch {
    return false;
  }
}

function exited(op: OperatorProcess, timeoutMs: number): Promise<number | null | 'running'> {
  if (op.child.exitCode !== null) return Promise.resolve(op.child.exitCode);
  return Promise.race([new Promise<number | null>((r) => op.child.once('exit', (code) => r(code))), sleep(timeoutMs).then(() => 'running' as const)]);
}

const MODELS = 30;

describe('leadership', () => {
  before(() => installCrd());

  it('a leader frozen with SIGSTOP writes nothing after the standby takes over, and exits when it wakes', async (t) => {
    const ns = useNamespace(t, 'lead');
    const suffix = randomBytes(3).toString('hex');
    const lease = `fence-${suffix}`;
    const [userA, userB] = [`modelship-operator-a-${suffix}`, `modelship-operator-b-${suffix}`];
    const args = ['--leader-elect=true', `--leader-election-id=${lease}`];
    const names = Array.from({ length: MODELS }, (_, i) => `m-${i}`);
    kubectl(['apply', '-n', ns, '-f', '-'], { input: names.map((n) => stringify(md(n, { replicas: 1 }))).join('---\n') });

    const a = await startOperator({ name: 'fence-a', kubeconfig: kubeconfigFor(userA, ['system:masters']), args });
    t.after(async () => {
      try {
        process.kill(a.child.pid as number, 'SIGCONT');
      } catch {
        // already gone
      }
      await a.stop('SIGKILL');
    });
    await eventually('A to lead', () => isLeader(a), 60_000);
    const b = await startOperator({ name: 'fence-b', kubeconfig: kubeconfigFor(userB, ['system:masters']), args });
    t.after(() => b.stop());
    for (const n of names) await waitReady(ns, n);

    // Changes keep coming, so a leader always has work in flight.
    let churning = true;
    let version = 0;
    const churn = (async () => {
      while (churning) {
        version++;
        const n = names[version % MODELS] as string;
        try {
          kubectl(['patch', 'mdep', n, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { model: { version: `v${version}` } } })]);
        } catch {
          // the namespace may be going away at the end
        }
        await sleep(150);
      }
    })();

    await sleep(3000);
    const beforeFreeze = auditOffset();
    await sleep(1000);
    const writesOf = (user: string, events: AuditEvent[]) => events.filter((e) => e.user.username === user && WRITE_VERBS.has(e.verb));
    const frozeAt = Date.now();
    process.kill(a.child.pid as number, 'SIGSTOP');
    const frozen = auditOffset();
    const aActive = writesOf(userA, auditEvents(beforeFreeze, frozen)).filter((e) => e.objectRef?.resource !== 'leases');
    assert.ok(aActive.length > 0, 'A was writing right before it froze');

    await eventually('B to take over', () => isLeader(b), 60_000);
    const takeover = writesOf(userB, auditEvents(frozen)).find((e) => e.objectRef?.resource === 'leases' && (e.responseStatus?.code ?? 0) < 300);
    assert.ok(takeover, "the standby's lease takeover is in the audit log");
    await eventually('B to write to a ModelDeployment or child', () =>
      writesOf(userB, auditEvents(frozen)).some((e) => e.objectRef?.resource !== 'leases' && e.objectRef?.resource !== 'events'),
    );

    const woke = Date.now();
    process.kill(a.child.pid as number, 'SIGCONT');
    const code = await exited(a, 30_000);
    assert.equal(code, 1, 'the old leader exits with 1 once it wakes');
    const exitedAfter = (Date.now() - woke) / 1000;
    await sleep(3000);
    churning = false;
    await churn;

    const afterTakeover = auditEvents({ at: takeover.requestReceivedTimestamp, ms: Date.parse(takeover.requestReceivedTimestamp) });
    const late = writesOf(userA, afterTakeover).filter((e) => e.objectRef?.resource !== 'leases');
    // The writes A reported as sent after its fence closed, with the pause between check and send.
    // (From its log file, which has every line: output() keeps the last 500.)
    const reports = readFileSync(a.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('A write left after the leader lease had lapsed'));
    const reported = reports.map((l) => JSON.parse(l) as { uri: string; pausedMs: number });
    const frozenMs = woke - frozeAt;
    const unexplained = late.filter((e) => {
      const i = reported.findIndex((r) => r.uri === e.requestURI && r.pausedMs >= frozenMs - 1000);
      if (i < 0) return true;
      reported.splice(i, 1);
      return false;
    });
    assert.deepEqual(
      unexplained.map((e) => `${e.requestReceivedTimestamp} ${e.verb} ${e.requestURI} ${e.responseStatus?.code}`),
      [],
      `A wrote nothing after B took over but what had passed the fence before it froze for ${frozenMs} ms (A reported: ${JSON.stringify(reports)})`,
    );
    const aLeaseWrites = writesOf(userA, afterTakeover).filter((e) => e.objectRef?.resource === 'leases');
    assert.ok(aLeaseWrites.every((e) => (e.responseStatus?.code ?? 0) >= 400), 'any lease write A tried after the takeover failed');
    assert.ok(a.output().some((l) => l.includes('Lost the leader lease')), 'A says why it stopped');

    // Every change converges under the new leader.
    for (const n of names) await waitReady(ns, n);
    t.diagnostic(
      `A wrote ${aActive.length} times in the second before it froze; B took the lease at ${takeover.requestReceivedTimestamp}; A, frozen ${(frozenMs / 1000).toFixed(1)} s, exited ${exitedAfter.toFixed(1)} s after SIGCONT; after the takeover it wrote ${late.length === 0 ? 'nothing' : `only ${late.length} write(s) already past the fence when it froze, reported by it`} (${aLeaseWrites.length} lease attempts, all refused)`,
    );
  });
});
