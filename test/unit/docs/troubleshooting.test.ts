// docs/operations.md's troubleshooting table and the reasons the operator writes: one row for every
// reason the Ready condition can carry, with the same "what to do" that `modelship explain` prints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { EXPLAIN_WHAT_TO_DO } from '../../../operator/src/cli/explain.ts';
import { Reason, WHAT_TO_DO } from '../../../operator/src/status/reasons.ts';
import { repoRoot } from '../api/fixtures.ts';

const doc = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Troubleshooting'));
const rows = section
  .split('\n')
  .filter((l) => l.startsWith('| `'))
  .map((l) => l.replace(/^\||\|$/g, '').split('|').map((c) => c.trim()));
/** Reason → its "What to do" cell. */
const table = new Map(rows.flatMap((cells) => [...(cells[0] ?? '').matchAll(/`([A-Za-z]+)`/g)].filter((m) => /^[A-Z]/.test(m[1] ?? '')).map((m) => [m[1] ?? '', cells[3] ?? ''] as const)));

// Reasons that only name events, or only the other conditions.
const NOT_READY_REASONS = new Set<string>([Reason.Reconciled, Reason.NotStalled, Reason.Created, Reason.Updated, Reason.Deleted, Reason.DeleteFailed, Reason.ScaledUp, Reason.ScaledDown]);

it('has a row for every reason of the Ready condition, and for explain\'s own', () => {
  const wanted = [...Object.values(Reason).filter((r) => !NOT_READY_REASONS.has(r)), ...Object.keys(EXPLAIN_WHAT_TO_DO)].sort();
  assert.deepEqual([...table.keys()].filter((r) => wanted.includes(r)).sort(), wanted);
});

it('says what to do in the words modelship explain prints', () => {
  for (const [reason, todo] of Object.entries({ ...WHAT_TO_DO, ...EXPLAIN_WHAT_TO_DO })) {
    assert.equal(table.get(reason), todo, `docs/operations.md, row ${reason}`);
  }
  assert.equal(table.get('Ready'), '', 'nothing to do when Ready');
});
