// The types and the CRD are generated from schema.ts; these fail when someone forgot to regenerate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CRD_PATHS, renderCrdYaml } from '../../../operator/src/api/generate-crd.ts';
import { renderTypesTs, TYPES_PATH } from '../../../operator/src/api/generate-types.ts';

test('types.ts matches the schema (run: npm run gen:crd)', () => {
  assert.equal(readFileSync(TYPES_PATH, 'utf8'), renderTypesTs());
});

for (const path of CRD_PATHS) {
  test(`${path.split('/').slice(-3).join('/')} matches the schema (run: npm run gen:crd)`, () => {
    assert.equal(readFileSync(path, 'utf8'), renderCrdYaml());
  });
}
