// Each file in invalid/ is an invalid ModelDeployment with the exact errors it must produce.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CROSS_FIELD_RULES } from '../../../operator/src/api/schema.ts';
import { validateModelDeployment } from '../../../operator/src/api/validate.ts';
import { loadInvalidCorpus } from './fixtures.ts';

const cases = loadInvalidCorpus();

for (const { file, c } of cases) {
  test(`${file}: ${c.description}`, () => {
    const result = validateModelDeployment(c.object);
    assert.equal(result.ok, false, 'must be refused');
    if (!result.ok) assert.deepEqual(result.errors, c.errors);
    assert.equal(typeof c.apiServer.refuses, 'boolean');
    if (c.apiServer.refuses) assert.ok((c.apiServer.messages ?? []).length > 0, 'a refused case names the server message');
    else assert.equal(c.apiServer.messages, undefined);
  });
}

test('the corpus covers every cross-field rule, on both sides', () => {
  for (const [name, rule] of Object.entries(CROSS_FIELD_RULES)) {
    const hit = cases.find(({ c }) => c.errors.some((e) => e.message === rule.message && e.field === rule.field));
    assert.ok(hit !== undefined, `no case for ${name}`);
    assert.ok(hit.c.apiServer.refuses, `${name} must be refused by the API server too`);
    assert.ok(hit.c.apiServer.messages?.some((m) => m.includes(rule.message)), `${name}: server message differs`);
  }
});
