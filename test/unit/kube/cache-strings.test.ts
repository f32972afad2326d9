// What the informer's cache does to each object it keeps (freezeForCache): the same values,
// frozen all the way down, with its strings taken from a bounded pool.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freezeForCache, StringPool } from '../../../operator/src/kube/types.ts';

const deployment = () =>
  JSON.parse(JSON.stringify({
    metadata: { name: 'fraud', labels: { 'app.kubernetes.io/name': 'model-server' }, annotations: { note: 'x'.repeat(300) } },
    spec: { replicas: 2, paused: false, template: { spec: { containers: [{ name: 'server', image: 'img:1', args: ['--port', '8080'], ports: [{ containerPort: 8080 }] }], nodeSelector: null } } },
  })) as Record<string, unknown>;

function assertDeepFrozen(v: unknown, path = '$'): void {
  if (v === null || typeof v !== 'object') return;
  assert.ok(Object.isFrozen(v), `${path} is frozen`);
  for (const [k, x] of Object.entries(v)) assertDeepFrozen(x, `${path}.${k}`);
}

describe('freezeForCache', () => {
  it('keeps every value, and freezes every object and array', () => {
    const obj = deployment();
    const copy = structuredClone(obj);
    const got = freezeForCache(obj, new StringPool());
    assert.equal(got, obj);
    assert.deepEqual(got, copy);
    assertDeepFrozen(got);
    assert.throws(() => {
      (got.spec as { replicas: number }).replicas = 3;
    }, TypeError);
  });

  it('shares equal strings across objects through the pool (one entry each), long ones not', () => {
    const pool = new StringPool();
    freezeForCache(deployment(), pool);
    const after1 = pool.size;
    freezeForCache(deployment(), pool);
    assert.equal(pool.size, after1, 'a second object with the same strings adds none');
    // fraud, model-server, server, img:1, --port, 8080 (the 300-character note is not pooled).
    assert.equal(after1, 6);
  });

  it('leaves an own __proto__ key as data and the prototype alone', () => {
    const obj = JSON.parse('{"data":{"__proto__":"evil","ok":"yes"}}') as { data: Record<string, unknown> };
    freezeForCache(obj, new StringPool());
    assert.equal(Object.getPrototypeOf(obj.data), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(obj.data, '__proto__')?.value, 'evil');
    assert.equal(obj.data.ok, 'yes');
    // An object under an own "__proto__" key is frozen like any other value.
    const nested = JSON.parse('{"data":{"__proto__":{"inner":"v"}}}') as { data: Record<string, unknown> };
    freezeForCache(nested, new StringPool());
    assert.ok(Object.isFrozen(Object.getOwnPropertyDescriptor(nested.data, '__proto__')?.value));
  });

  it('freezes only own keys, and every one of them', () => {
    const obj = Object.assign(Object.create({ inherited: { x: 1 } }) as Record<string, unknown>, { own: { y: 'z' }, list: [{ w: 'v' }] });
    freezeForCache(obj, new StringPool());
    assert.ok(Object.isFrozen(obj.own) && Object.isFrozen(obj.list) && Object.isFrozen((obj.list as object[])[0]));
    assert.ok(!Object.isFrozen((Object.getPrototypeOf(obj) as { inherited: object }).inherited), 'an inherited value is not ours to freeze');
  });

  it('leaves an already frozen part as it is', () => {
    const frozen = Object.freeze({ a: 'x' });
    const obj = { frozen, b: 'y' };
    freezeForCache(obj, new StringPool());
    assert.equal(obj.frozen, frozen);
    assert.ok(Object.isFrozen(obj));
  });
});

describe('StringPool', () => {
  it('returns an equal string, and holds at most two generations', () => {
    const pool = new StringPool(100);
    for (let i = 0; i < 10_000; i++) assert.equal(pool.share(`uid-${i}`), `uid-${i}`);
    assert.ok(pool.size <= 200, `size ${pool.size}`);
    assert.ok(pool.size > 100);
  });
});
