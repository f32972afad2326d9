// `npm run demo` as a user runs it: on the cluster that is up, it installs the CRD, starts the
// operator, serves two example models, prints what it made and what to try next, and stops cleanly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { kubectl, repoRoot } from './harness.ts';

it('npm run demo serves the examples and prints the objects and the next commands', async (t) => {
  t.after(() => kubectl(['delete', 'namespace', 'modelship-demo', '--ignore-not-found', '--wait=false']));
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'test/demo.ts')], { env: { ...process.env, MODELSHIP_DEMO_ONCE: '1' }, timeout: 300_000 }, (err, so, se) =>
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
  assert.match(stdout, /Try next/);
  assert.match(stdout, /Stopping the operator/);
});
