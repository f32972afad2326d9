// Scenario 1: a share of the API server's answers are errors (mixed 500, 503 and 429 with
// Retry-After; half of those on writes come after the write landed) while a fleet converges. Every
// ModelDeployment converges to its last change, no child is duplicated, and the time and the write
// calls are printed against the same run without faults.
//
// `npm test` runs it with MODELSHIP_FAULTS_MODELS models (default 50, for the time budget on two
// cores); `npm run soak` runs it with the issue's 300.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it, type TestContext } from 'node:test';
import { auditOffset, installCrd, useNamespace } from '../integration/harness.ts';
import { startOperator } from '../integration/operator.ts';
import { adminClient, assertNoDuplicates, createFleet, faultyPath, figures, peakRssMiB, setVersion, waitConverged, writesOf, inParallel } from './support.ts';

const MODELS = Number(process.env.MODELSHIP_FAULTS_MODELS ?? 50);
const ERROR_RATE = 0.1;

interface Run {
  seconds: number;
  writes: number;
  rssMiB: number;
  requests: number;
  injected: Record<string, number>;
  injectedAfterWrite: number;
  children: number;
}

/** Creates the fleet at v1, then moves every model to v2 at once (racing the first reconciles). */
async function converge(t: TestContext, errorRate: number): Promise<Run> {
  const ns = useNamespace(t, 'fault');
  const user = `fault-op-${randomBytes(3).toString('hex')}`;
  const path = await faultyPath(user);
  t.after(() => path.close());
  path.proxy.set({ errorRate, codes: [500, 503, 429], retryAfterSeconds: 1 });
  const op = await startOperator({
    name: `errors-${errorRate}`,
    kubeconfig: path.kubeconfig,
    args: ['--leader-elect=false', '--concurrency=8', `--watch-namespaces=${ns}`],
    env: { MODELSHIP_LOG_LEVEL: 'info' },
  });
  t.after(() => op.stop('SIGKILL'));
  const client = adminClient();
  const names = Array.from({ length: MODELS }, (_, i) => `m-${i}`);
  const mark = auditOffset();
  const start = performance.now();
  await createFleet(client, ns, names, 'v1');
  await inParallel(names, 8, (n) => setVersion(client, ns, n, 'v2'));
  await waitConverged(client, ns, new Map(names.map((n) => [n, 'v2'])), 15 * 60_000);
  const seconds = (performance.now() - start) / 1000;
  const { children } = await assertNoDuplicates(client, ns);
  const writes = writesOf(user, mark);
  const rssMiB = peakRssMiB(op.child.pid);
  assert.equal(op.child.exitCode, null, 'the operator kept running');
  await op.stop();
  return { seconds, writes, rssMiB, requests: path.proxy.stats.requests, injected: path.proxy.stats.injected, injectedAfterWrite: path.proxy.stats.injectedAfterWrite, children };
}

describe('faults: API errors', () => {
  before(() => installCrd());

  it(`converges ${MODELS} ModelDeployments while ${ERROR_RATE * 100} % of requests fail with 500, 503 or 429, without duplicates or lost updates`, async (t) => {
    const clean = await converge(t, 0);
    assert.deepEqual(clean.injected, {}, 'the run without faults had none');
    const faulty = await converge(t, ERROR_RATE);
    const injected = Object.values(faulty.injected).reduce((a, b) => a + b, 0);
    // The proof needs the faults to have happened: about a tenth of the requests, each code seen.
    assert.ok(injected >= faulty.requests * ERROR_RATE * 0.5, `only ${injected} of ${faulty.requests} requests were failed`);
    for (const code of ['500', '503', '429']) assert.ok((faulty.injected[code] ?? 0) > 0, `no ${code} was injected`);
    assert.ok(faulty.injectedAfterWrite > 0, 'some errors came after the write had landed');
    figures(t, 'S1 api-errors', {
      models: MODELS,
      injected: `${injected}/${faulty.requests} (${Object.entries(faulty.injected).map(([c, n]) => `${c}:${n}`).join(' ')}; after write ${faulty.injectedAfterWrite})`,
      cleanS: clean.seconds,
      faultyS: faulty.seconds,
      timeRatio: faulty.seconds / clean.seconds,
      cleanWrites: clean.writes,
      faultyWrites: faulty.writes,
      writeRatio: faulty.writes / clean.writes,
      children: faulty.children,
      peakRssMiB: Math.max(clean.rssMiB, faulty.rssMiB),
    });
  });
});
