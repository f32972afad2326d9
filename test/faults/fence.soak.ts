// `npm run soak` (not in `npm test`): the leader's write fence against real freezes. A process
// writing without pause through the operator's RestClient and transport is frozen (SIGSTOP) for
// 1 s at random moments, FENCE_FREEZES times. Its fence closes while it is frozen, as a leader's
// does past its renew deadline. A freeze that lands in the instant between a write's last check
// and its bytes leaving lets that write reach the API server after the fence closed; no check can
// stop it. What must hold: every write the API server received more than half a freeze after its
// check was reported by onLateWrite (the operator's error log line and
// modelship_leader_late_writes_total), with a pause at least as long as the freeze. And the
// scenario must have produced at least one such write, or it proved nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeconfigFor } from '../cluster/cluster.ts';
import { auditEvents, auditOffset, useNamespace } from '../integration/harness.ts';

const FREEZES = Number(process.env.MODELSHIP_FENCE_FREEZES ?? 200);
const FREEZE_MS = 1000;

describe('the write fence against real freezes', () => {
  it(`reports every write that a freeze let out after its fence closed (${FREEZES} freezes of ${FREEZE_MS} ms)`, async (t) => {
    const ns = useNamespace(t, 'fence');
    const user = `fence-writer-${randomBytes(3).toString('hex')}`;
    const outDir = mkdtempSync(join(tmpdir(), 'modelship-fence-'));
    const out = join(outDir, 'writes.txt');
    const from = auditOffset();
    const writer = spawn(process.execPath, [join(import.meta.dirname, 'fence-writer.ts'), kubeconfigFor(user, ['system:masters']), ns, out, '6'], { stdio: 'inherit' });
    t.after(() => writer.kill('SIGKILL'));
    t.after(() => rmSync(outDir, { recursive: true, force: true }));
    await sleep(3000);
    for (let i = 0; i < FREEZES; i++) {
      await sleep(200 + Math.random() * 800);
      process.kill(writer.pid as number, 'SIGSTOP');
      await sleep(FREEZE_MS);
      process.kill(writer.pid as number, 'SIGCONT');
    }
    await sleep(1000);
    const exited = new Promise((r) => writer.once('exit', r));
    writer.kill('SIGTERM');
    await exited;

    const checked = new Map<string, number>();
    const reported = new Map<string, number>();
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const [what, id, value] = line.split(' ');
      if (what === 'CHECK') checked.set(id as string, Number(value));
      if (what === 'LATE') reported.set(id as string, Number(value));
    }
    const late: string[] = [];
    let received = 0;
    for (const e of auditEvents(from)) {
      if (e.user.username !== user) continue;
      const id = /fieldManager=(s\d+)/.exec(e.requestURI)?.[1];
      const at = checked.get(id ?? '');
      if (id === undefined || at === undefined) continue;
      received++;
      const ts = e.requestReceivedTimestamp;
      const receivedAt = Date.parse(ts) + Number(/\.\d{3}(\d{3})Z$/.exec(ts)?.[1] ?? 0) / 1000;
      if (receivedAt - at > FREEZE_MS / 2) late.push(`${id} received ${(receivedAt - at).toFixed(1)} ms after its check`);
    }
    t.diagnostic(`${checked.size} writes passed their check, ${received} received; ${late.length} received after a freeze that came after their check; ${reported.size} reported late`);
    assert.ok(late.length > 0, `no freeze of ${FREEZES} landed between a check and a send: the scenario proved nothing (raise MODELSHIP_FENCE_FREEZES)`);
    const unreported = late.filter((l) => (reported.get(l.split(' ')[0] as string) ?? 0) < FREEZE_MS * 0.9);
    assert.deepEqual(unreported, [], 'every write that left after its fence closed was reported, with the pause');
  });
});
