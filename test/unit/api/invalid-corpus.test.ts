// Each file in invalid/ is an invalid ModelDeployment with the exact errors it must produce.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { CROSS_FIELD_RULES } from '../../../operator/src/api/schema.ts';
import { validateModelDeployment } from '../../../operator/src/api/validate.ts';
import type { FieldError } from '../../../operator/src/api/validate.ts';
import { repoRoot } from './fixtures.ts';

interface Case {
  description: string;
  errors: FieldError[];
  apiServer: { refuses: boolean; messages?: string[] };
  object: unknown;
}

const dir = join(repoRoot, 'test/unit/api/invalid');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({ file, c: parse(readFileSync(join(dir, file), 'utf8')) as Case }));

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
