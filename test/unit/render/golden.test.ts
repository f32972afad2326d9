// The children of every example as the operator's first pass applies them (rendered, then shaped
// by the rollout plan), under the default config, checked in as golden files.
// After an intended change: UPDATE_GOLDEN=1 npx node --test test/unit/render/golden.test.ts
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { validateModelDeployment } from '../../../operator/src/api/validate.ts';
import { firstApply } from '../../../operator/src/controller/rollout.ts';
import { defaultRenderConfig, renderChildren } from '../../../operator/src/render/index.ts';
import { loadExamples, repoRoot } from '../api/fixtures.ts';

const goldenDir = join(repoRoot, 'test/golden');
const update = process.env['UPDATE_GOLDEN'] === '1';
const GOLDEN_NAMESPACE = 'default';
const GOLDEN_UID = '11111111-2222-3333-4444-555555555555';

function renderExample(object: unknown): string {
  const r = validateModelDeployment(object);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const md = { ...r.value, metadata: { ...r.value.metadata, namespace: GOLDEN_NAMESPACE, uid: GOLDEN_UID } };
  const docs = firstApply(md, renderChildren(md, defaultRenderConfig));
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

const examples = loadExamples();

test('there are at least six examples', () => assert.ok(examples.length >= 6));

for (const ex of examples) {
  test(`golden: ${ex.file}`, () => {
    const path = join(goldenDir, `${ex.name}.yaml`);
    const got = renderExample(ex.object);
    if (update) writeFileSync(path, got);
    assert.ok(existsSync(path), `missing ${path}; run with UPDATE_GOLDEN=1`);
    assert.equal(got, readFileSync(path, 'utf8'), `${ex.file} renders differently; if intended, run with UPDATE_GOLDEN=1`);
  });
}

test('no golden file without an example', () => {
  const names = new Set(examples.map((e) => `${e.name}.yaml`));
  assert.deepEqual(readdirSync(goldenDir).filter((f) => !names.has(f)), []);
});
