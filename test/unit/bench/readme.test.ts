import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BEGIN, END, row, rowKey, updateReadme, type BenchResult } from '../../bench/readme.ts';

const result = (over: Partial<BenchResult> = {}): BenchResult => ({
  count: 1000, replicas: 'half 1, half autoscaled', memoryLimit: null, when: '2026-11-29T22:00:00.000Z', nodeOptions: '--x',
  floorSeconds: 150.04, operatorSeconds: 200.0, ratio: 1.333, cpuMsPerModel: 12.34, idleRssMiB: 80.4, peakRssMiB: 190.6,
  writesPerModel: 7.126, steadyWrites: 0, restartSyncSeconds: 1.234, restartWrites: 0, restartPeakRssMiB: 150.4, oom: 'none', ...over,
});
const readme = (table: string) => `# x\n\n${BEGIN}${table}${END}\n\nafter\n`;

test('a row says each figure with its unit, and – for a run without a floor', () => {
  assert.equal(row(result()), '| 1,000 | 150.0 s | 200.0 s | 1.33 | 12.3 ms | 80 / 191 MiB | 7.13 | 0 | 1.23 s, 0, 150 MiB | 2026-11-29 |');
  assert.match(row(result({ floorSeconds: null, ratio: null })), /^\| 1,000 \| – \| 200\.0 s \| – \|/);
  assert.equal(rowKey(result({ count: 10000, replicas: 0 })), '10,000 (0 replicas)');
  assert.equal(rowKey(result({ memoryLimit: '256Mi' })), '1,000 (limit 256Mi)');
});

test('a run replaces the row of its kind, keeps the others from the same machine, sorted by size', () => {
  let text = updateReadme(readme(''), result({ count: 1000 }), 'm1');
  text = updateReadme(text, result({ count: 200, operatorSeconds: 30 }), 'm1');
  text = updateReadme(text, result({ count: 1000, operatorSeconds: 180 }), 'm1');
  const rows = text.split('\n').filter((l) => /^\| [\d,]+ /.test(l));
  assert.deepEqual(rows.map((l) => l.split(' | ')[0]), ['| 200', '| 1,000']);
  assert.match(rows[1] ?? '', /\| 180\.0 s \|/);
  assert.ok(text.includes('Machine: m1.'));
  assert.ok(text.endsWith(`${END}\n\nafter\n`));
});

test('rows from another machine are dropped, not mixed', () => {
  const text = updateReadme(updateReadme(readme(''), result({ count: 200 }), 'm1'), result({ count: 1000 }), 'm2');
  assert.deepEqual(text.split('\n').filter((l) => /^\| [\d,]+ /.test(l)).map((l) => l.split(' | ')[0]), ['| 1,000']);
  assert.ok(text.includes('Machine: m2.') && !text.includes('Machine: m1.'));
});

test('rows of an older layout are dropped with their header, not put under other columns', () => {
  const oldHeader = '| models | floor to all Ready | restart: caches synced, writes | run |\n| --- | --- | --- | --- |\n| 200 | 30.0 s | 1.00 s, 0 | 2026-11-01 |\n';
  const text = updateReadme(readme(`\nMachine: m1.\n\n${oldHeader}`), result({ count: 1000 }), 'm1');
  const table = text.split('\n').filter((l) => l.startsWith('| '));
  assert.equal(table.length, 3);
  assert.match(table[0] ?? '', /restart: caches synced, writes, peak RSS \| run \|$/);
  assert.match(table[2] ?? '', /^\| 1,000 \|/);
});

test('a README without the markers is an error, not a silent no-op', () => {
  assert.throws(() => updateReadme('# x\n', result(), 'm'), /no benchmark table/);
});
