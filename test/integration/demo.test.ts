// `npm run demo` as a user runs it: on the cluster that is up, it installs the CRD, starts the
// operator, serves two example models, prints what it made, puts traffic on the autoscaled one
// until it has scaled up and back down (act 2, with a 15 s scale-down window here), prints what
// to try next, and stops cleanly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { kubectl, repoRoot } from './harness.ts';

it('npm run demo serves the examples, scales the autoscaled one with traffic and back, and prints the next commands', async (t) => {
  t.after(() => kubectl(['delete', 'namespace', 'modelship-demo', '--ignore-not-found', '--wait=false']));
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'test/demo.ts')], { env: { ...process.env, MODELSHIP_DEMO_ONCE: '1', MODELSHIP_DEMO_SCALE_DOWN_SECONDS: '15' }, timeout: 420_000 }, (err, so, se) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: so, stderr: se }),
    );
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Installed the ModelDeployment CRD/);
  assert.match(stdout, /modeldeployment\.serving\.modelship\.dev\/quickstart\s+https:\/\/models\.example\.com\/iris\/v1\/model\.joblib\s+True/);
  assert.match(stdout, /modeldeployment\.serving\.modelship\.dev\/fraud-detector\s+s3:\/\/acme-ml-models\/fraud\/v7\s+7\s+True/);
  for (const kind of ['deployment.apps/quickstart', 'service/fraud-detector', 'horizontalpodautoscaler.autoscaling/fraud-detector', 'poddisruptionbudget.policy/fraud-detector']) {
    assert.ok(stdout.includes(kind), `the table shows ${kind}`);
  }
  // Act 2: a live table, from idle to 8 replicas and back to 2.
  assert.match(stdout, /Act 2: traffic on fraud-detector/);
  assert.match(stdout, /from 300 s to 15 s/, 'the demo says it shortened the stabilization window');
  assert.match(stdout, /time\s+phase\s+load\s+cpu\/pod\s+hpa sees\s+desired\s+ready\s+status/);
  assert.match(stdout, /idle\s+120 rps\s+301m 30%\s+<unknown>\/70%/, 'the HPA before metrics-server has the pods\' metrics');
  assert.match(stdout, /step up\s+1080 rps\s+676m 68%\s+\d+%\/70%\s+8\s+█{8} 8\s+Ready\/Ready/, 'a row at 8 ready replicas under the high load');
  assert.match(stdout, /back to idle .*ScaleDownStabilized/, 'the status says why it does not scale down yet');
  assert.match(stdout, /==> fraud-detector scaled from 2 to 8 replicas \d+ s after the load rose, and came back down to its minimum \d+ s after it fell \(stabilization window 15 s\)/);
  assert.match(stdout, /ScaledUp\s+The HorizontalPodAutoscaler scaled from 2 to 4 replicas \(limited: ScaleUpLimit\)/);
  assert.match(stdout, /ScaledDown\s+The HorizontalPodAutoscaler scaled from \d+ to 2 replicas/);
  const rows = stdout.split('\n').filter((l) => /^\s+\d+s\s+(idle|step up|back to idle)\s/.test(l));
  t.diagnostic(`act 2 printed ${rows.length} rows; ${stdout.match(/==> fraud-detector scaled[^\n]*/)?.[0] ?? ''}`);
  assert.match(stdout, /Try next/);
  assert.match(stdout, /Stopping the operator/);
});
