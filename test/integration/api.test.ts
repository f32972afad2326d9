// The API against the real kube-apiserver: the generated CRD installs; CEL and schema refuse what
// the invalid corpus says they refuse, with its messages; kubectl explain and kubectl get use
// the descriptions and printer columns; and every child rendered for every example passes
// server-side dry-run.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type { ModelDeployment } from '../../operator/src/api/types.ts';
import { validateModelDeployment } from '../../operator/src/api/validate.ts';
import { defaultRenderConfig, renderChildren } from '../../operator/src/render/index.ts';
import { loadExamples } from '../unit/api/fixtures.ts';
import { getJson, installCrd, kubectl, repoRoot, useNamespace } from './harness.ts';

interface Case {
  description: string;
  apiServer: { refuses: boolean; messages?: string[] };
  object: Record<string, unknown> & { metadata: { name: string } };
}

const corpusDir = join(repoRoot, 'test/unit/api/invalid');
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({ file, c: parse(readFileSync(join(corpusDir, file), 'utf8')) as Case }));

describe('the ModelDeployment API on a real API server', () => {
  before(() => installCrd());

  it('refuses invalid specs with the CEL and schema messages, and accepts the ones only the operator catches', (t) => {
    const ns = useNamespace(t, 'api');
    const failures: string[] = [];
    for (const { file, c } of corpus) {
      const obj = { ...c.object, metadata: { ...c.object.metadata, namespace: ns } };
      let err = '';
      try {
        kubectl(['create', '--dry-run=server', '-f', '-'], { input: stringify(obj) });
      } catch (e) {
        err = (e as Error).message;
      }
      if (c.apiServer.refuses) {
        if (!err) failures.push(`${file}: the server accepted it`);
        for (const m of c.apiServer.messages ?? []) if (!err.includes(m)) failures.push(`${file}: the server's error lacks ${JSON.stringify(m)}; it said: ${err}`);
      } else if (err) {
        failures.push(`${file}: the server refused what only the operator should catch: ${err}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('explains every field with kubectl explain', () => {
    const out = kubectl(['explain', 'modeldeployment.spec.autoscaling']);
    assert.match(out, /GROUP:\s+serving\.modelship\.dev/);
    assert.match(out, /HorizontalPodAutoscaler/);
    for (const field of ['minReplicas', 'maxReplicas', 'targetCPUUtilizationPercentage', 'metrics', 'behavior']) {
      assert.match(out, new RegExp(`${field}\\s+<`), `explain lists ${field}`);
    }
    const recursive = kubectl(['explain', 'modeldeployment.spec', '--recursive']);
    assert.match(recursive, /credentialsSecret/);
    const model = kubectl(['explain', 'mdep.spec.model.uri']);
    assert.match(model, /s3:\/\//, 'the short name works and the description says which URIs are allowed');
  });

  it('shows the printer columns with kubectl get mdep, and serves the scale subresource', (t) => {
    const ns = useNamespace(t, 'api');
    kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'examples/quickstart.yaml')]);
    const header = kubectl(['get', 'mdep', '-n', ns]).split('\n')[0] ?? '';
    assert.deepEqual(header.trim().split(/\s+/), ['NAME', 'MODEL', 'VERSION', 'READY', 'REASON', 'REPLICAS', 'DESIRED', 'CANARY', 'URL', 'AGE']);
    const inCategory = kubectl(['get', 'modelship', '-n', ns, '-o', 'name']);
    assert.match(inCategory, /modeldeployment\.serving\.modelship\.dev\/quickstart/);
    kubectl(['scale', '-n', ns, 'mdep/quickstart', '--replicas=3']);
    assert.equal(getJson<{ spec: { replicas: number } }>(['get', 'mdep', 'quickstart', '-n', ns]).spec.replicas, 3);
  });

  it('accepts every child rendered for every example in a server-side dry-run', (t) => {
    const ns = useNamespace(t, 'api');
    const failures: string[] = [];
    let count = 0;
    for (const ex of loadExamples()) {
      const raw = ex.object as ModelDeployment;
      const md = { ...raw, metadata: { ...raw.metadata, namespace: ns } };
      // The ModelDeployment itself must be valid for the CRD and for the operator.
      kubectl(['create', '--dry-run=server', '-f', '-'], { input: stringify(md) });
      const v = validateModelDeployment(md);
      assert.ok(v.ok, `${ex.file} is valid`);
      const withUid = { ...v.value, metadata: { ...v.value.metadata, uid: '00000000-0000-0000-0000-000000000001', generation: 1 } };
      for (const child of Object.values(renderChildren(withUid, defaultRenderConfig))) {
        count++;
        try {
          kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=modelship', '--force-conflicts', '-f', '-'], { input: stringify(child) });
        } catch (e) {
          failures.push(`${ex.file} ${child.kind}: ${(e as Error).message}`);
        }
      }
    }
    assert.ok(count >= 20, `rendered ${count} children`);
    assert.deepEqual(failures, []);
  });
});
