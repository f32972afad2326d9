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
  ];
  for (const c of cases) it(c.name, () => assert.equal(containsDesired(c.desired, c.observed), c.want));
});

describe('differingPaths', () => {
  it('names the fields that drifted', () => {
    const desired = { spec: { type: 'ClusterIP', ports: [{ port: 80 }] }, metadata: { labels: { a: '1' } } };
    const observed = { spec: { type: 'NodePort', ports: [{ port: 80 }] }, metadata: { labels: { a: '2' } } };
    assert.deepEqual(differingPaths(desired, observed), ['spec.type', 'metadata.labels.a']);
  });
  it('is empty when nothing drifted', () => assert.deepEqual(differingPaths({ a: 1 }, { a: 1, b: 2 }), []));
});
