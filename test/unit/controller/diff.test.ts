import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containsDesired, differingPaths, parseQuantity } from '../../../operator/src/controller/diff.ts';

describe('parseQuantity', () => {
  const cases: [string, number | undefined][] = [
    ['1', 1], ['500m', 0.5], ['1000m', 1], ['2Gi', 2 * 2 ** 30], ['1.5', 1.5], ['1e3', 1000], ['128974848', 128974848],
    ['129e6', 129e6], ['123Mi', 123 * 2 ** 20], ['1k', 1000], ['25%', undefined], ['abc', undefined], ['', undefined],
  ];
  for (const [q, want] of cases) it(`parses ${JSON.stringify(q)}`, () => assert.equal(parseQuantity(q), want));
});

describe('containsDesired', () => {
  const cases: { name: string; desired: unknown; observed: unknown; want: boolean }[] = [
    { name: 'equal scalars', desired: { a: 1 }, observed: { a: 1 }, want: true },
    { name: 'a changed scalar', desired: { a: 1 }, observed: { a: 2 }, want: false },
    { name: 'fields others added', desired: { spec: { type: 'ClusterIP' } }, observed: { spec: { type: 'ClusterIP', clusterIP: '10.0.0.3' } }, want: true },
    { name: 'a field we send that is missing', desired: { spec: { replicas: 2 } }, observed: { spec: {} }, want: false },
    { name: 'canonicalised CPU quantity', desired: { cpu: '1000m' }, observed: { cpu: '1' }, want: true },
    { name: 'numeric GPU count against the string', desired: { 'nvidia.com/gpu': 1 }, observed: { 'nvidia.com/gpu': '1' }, want: true },
    { name: 'a changed quantity', desired: { memory: '2Gi' }, observed: { memory: '1Gi' }, want: false },
    { name: 'percentages compare as strings', desired: { maxSurge: '25%' }, observed: { maxSurge: '25%' }, want: true },
    { name: 'a percentage against a number', desired: { maxSurge: '25%' }, observed: { maxSurge: 25 }, want: false },
    { name: 'list items defaulted by the server', desired: { ports: [{ name: 'http', port: 80 }] }, observed: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }, want: true },
    { name: 'a list with an extra item', desired: { ports: [{ port: 80 }] }, observed: { ports: [{ port: 80 }, { port: 81 }] }, want: false },
    { name: 'a reordered list', desired: { args: ['a', 'b'] }, observed: { args: ['b', 'a'] }, want: false },
    { name: 'an empty object the server dropped', desired: { securityContext: {} }, observed: {}, want: true },
    { name: 'an empty list the server dropped', desired: { env: [] }, observed: {}, want: true },
    { name: 'an object where a scalar stands', desired: { a: { b: 1 } }, observed: { a: 'x' }, want: false },
    { name: 'a missing object', desired: { metadata: { labels: { x: 'y' } } }, observed: {}, want: false },
    { name: 'a null we send means absent', desired: { a: null }, observed: {}, want: true },
    { name: 'an object where a list stands', desired: { a: { b: 1 } }, observed: { a: [1] }, want: false },
    { name: 'an empty list we send against a list', desired: { a: [] }, observed: { a: [1] }, want: true },
    { name: 'an empty object we send against a scalar', desired: { a: {} }, observed: { a: 1 }, want: false },
    { name: 'lists of lists', desired: { a: [[1, { b: '1000m' }]] }, observed: { a: [[1, { b: '1', c: 2 }]] }, want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(containsDesired(c.desired, c.observed), c.want));

  // The definition, written plainly (as it was before it became allocation-free loops): the two
  // must agree on every pair of random JSON trees.
  function reference(desired: unknown, observed: unknown): boolean {
    const isEmpty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0);
    if (desired === undefined) return true;
    if (desired === null) return observed === undefined || observed === null;
    if (isEmpty(desired)) return observed === undefined || observed === null || typeof observed === 'object';
    if (Array.isArray(desired)) return Array.isArray(observed) && observed.length === desired.length && desired.every((d, i) => reference(d, observed[i]));
    if (typeof desired === 'object') {
      if (typeof observed !== 'object' || observed === null || Array.isArray(observed)) return false;
      return Object.entries(desired as Record<string, unknown>).every(([k, v]) => reference(v, (observed as Record<string, unknown>)[k]));
    }
    return containsDesired(desired, observed);
  }
  it('agrees with its plain definition on random trees', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const leaves = [1, 2, '1', '1000m', '2Gi', 'a', null, true, undefined];
    const tree = (depth: number): unknown => {
      const r = rand(depth > 0 ? 4 : 1);
      if (r === 0) return leaves[rand(leaves.length)];
      if (r === 1) return Array.from({ length: rand(3) }, () => tree(depth - 1));
      return Object.fromEntries(Array.from({ length: rand(3) }, () => ['abc'[rand(3)] as string, tree(depth - 1)]));
    };
    // A copy with some values replaced (and sometimes a key added or an item dropped).
    const mutate = (v: unknown): unknown => {
      if (rand(5) === 0) return tree(1);
      if (Array.isArray(v)) return rand(6) === 0 ? v.slice(1).map(mutate) : v.map(mutate);
      if (v && typeof v === 'object') return Object.fromEntries([...Object.entries(v).map(([k, x]) => [k, mutate(x)]), ...(rand(4) === 0 ? [['d', tree(1)]] : [])]);
      return v;
    };
    let agreedTrue = 0;
    for (let i = 0; i < 20_000; i++) {
      const desired = tree(3);
      // Most pairs start from the desired tree, so that both answers are common.
      const observed = rand(4) === 0 ? tree(3) : mutate(desired);
      const want = reference(desired, observed);
      assert.equal(containsDesired(desired, observed), want, JSON.stringify({ desired, observed }));
      if (want) agreedTrue++;
    }
    assert.ok(agreedTrue > 3_000 && agreedTrue < 17_000, `both answers must occur often (true ${agreedTrue} of 20,000)`);
  });
});

describe('differingPaths', () => {
  it('names the fields that drifted', () => {
    const desired = { spec: { type: 'ClusterIP', ports: [{ port: 80 }] }, metadata: { labels: { a: '1' } } };
    const observed = { spec: { type: 'NodePort', ports: [{ port: 80 }] }, metadata: { labels: { a: '2' } } };
    assert.deepEqual(differingPaths(desired, observed), ['spec.type', 'metadata.labels.a']);
  });
  it('is empty when nothing drifted', () => assert.deepEqual(differingPaths({ a: 1 }, { a: 1, b: 2 }), []));
});
