import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ASSUME_TTL_MS, diffList, Informer, ReconnectBackoff } from '../../../operator/src/kube/informer.ts';
import { createMetrics, type Metrics } from '../../../operator/src/observability/metrics.ts';
import type { KubeList, KubeObject } from '../../../operator/src/kube/types.ts';
import type { Echo } from '../../../operator/src/kube/decode.ts';
import type { ListerWatcher, WatchEnd, WatchEvent } from '../../../operator/src/kube/watch.ts';
import { settle } from '../support/fake-clock.ts';

interface Obj extends KubeObject {
  spec?: { n: number };
}

function obj(ns: string, name: string, rv: string, n = 0): Obj {
  return { apiVersion: 'v1', kind: 'Thing', metadata: { namespace: ns, name, resourceVersion: rv }, spec: { n } };
}

interface WatchCall {
  namespace: string | undefined;
  rv: string;
  send: (e: WatchEvent<Obj>) => void;
  end: (e: WatchEnd) => void;
  known?: (rv: string) => Echo<Obj> | undefined;
}

/** A scripted ListerWatcher: lists answer from a script, watches stay open until the test ends them. */
class ScriptedLW {
  lists: Array<KubeList<Obj> | Error> = [];
  listCalls: Array<string | undefined> = [];
  watches: WatchCall[] = [];

  for(namespace: string | undefined): ListerWatcher<Obj> {
    return {
      list: async (_signal, keep) => {
        this.listCalls.push(namespace);
        const next = this.lists.shift();
        if (!next) throw new Error('no scripted list');
        if (next instanceof Error) throw next;
        return { items: next.items.filter((o) => namespace === undefined || o.metadata?.namespace === namespace).map(keep), resourceVersion: next.resourceVersion };
      },
      watch: (rv, onEvent, signal, known) =>
        new Promise<WatchEnd>((resolve) => {
          signal.addEventListener('abort', () => resolve({ kind: 'stopped' }), { once: true });
          this.watches.push({ namespace, rv, send: onEvent, end: resolve, ...(known ? { known } : {}) });
        }),
    };
  }

  last(): WatchCall {
    const w = this.watches.at(-1);
    assert.ok(w, 'a watch is open');
    return w;
  }
}

function setup(namespaces?: string[], metrics?: Metrics): {
  lw: ScriptedLW;
  informer: Informer<Obj>;
  sleeps: number[];
  events: string[];
  clock: { t: number };
} {
  const lw = new ScriptedLW();
  const sleeps: number[] = [];
  const clock = { t: 0 };
  const informer = new Informer<Obj>({
    apiVersion: 'v1',
    kind: 'Thing',
    namespaces,
    listerWatcher: (ns) => lw.for(ns),
    ...(metrics ? { metrics } : {}),
    now: () => clock.t,
    // Sleeps take no wall time but yield to the event loop, as a real timer would.
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      clock.t += ms;
      await new Promise((r) => setImmediate(r));
      return !signal.aborted;
    },
  });
  const events: string[] = [];
  informer.on({
    add: (o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    update: (o, old) => events.push(`update ${o.metadata?.name}@${old.metadata?.resourceVersion}->${o.metadata?.resourceVersion}`),
    delete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  return { lw, informer, sleeps, events, clock };
}

describe('Informer', () => {
  it('lists, reports synced, then watches from the list resourceVersion', async () => {
    const { lw, informer, events } = setup();
    lw.lists.push({ items: [obj('a', 'x', '5'), obj('b', 'y', '6')], resourceVersion: '10' });
    assert.equal(informer.hasSynced(), false);
    informer.start();
    assert.equal(await informer.waitForSync(), true);
    await settle();
    assert.deepEqual(events, ['add x@5', 'add y@6']);
    assert.equal(lw.last().rv, '10');
    assert.equal(informer.get('a', 'x')?.metadata?.resourceVersion, '5');
    assert.deepEqual(informer.list('b').map((o) => o.metadata?.name), ['y']);
    assert.equal(informer.list().length, 2);
    await informer.stop();
  });

  it('applies watch events to the cache and calls handlers with the old object', async () => {
    const { lw, informer, events } = setup();
    lw.lists.push({ items: [obj('a', 'x', '5')], resourceVersion: '10' });
    informer.start();
    await settle();
    const w = lw.last();
    w.send({ type: 'ADDED', object: obj('a', 'z', '11') });
    w.send({ type: 'MODIFIED', object: obj('a', 'x', '12', 1) });
    w.send({ type: 'MODIFIED', object: obj('a', 'x', '12', 1) });
    w.send({ type: 'DELETED', object: obj('a', 'z', '13') });
    assert.deepEqual(events, ['add x@5', 'add z@11', 'update x@5->12', 'delete z']);
    assert.equal(informer.get('a', 'z'), undefined);
    assert.equal(informer.get('a', 'x')?.spec?.n, 1);
    await informer.stop();
  });

  it('relists on 410 Gone and turns the difference into events', async () => {
    const { lw, informer, events, sleeps } = setup();
    lw.lists.push({ items: [obj('a', 'keep', '1'), obj('a', 'change', '2'), obj('a', 'drop', '3')], resourceVersion: '10' });
    lw.lists.push({ items: [obj('a', 'keep', '1'), obj('a', 'change', '20'), obj('a', 'new', '21')], resourceVersion: '30' });
    informer.start();
    await settle();
    events.length = 0;
    lw.last().end({ kind: 'gone' });
    await settle();
    assert.equal(lw.listCalls.length, 2);
    assert.deepEqual(events, ['delete drop', 'add new@21', 'update change@2->20']);
    assert.equal(lw.last().rv, '30');
    assert.deepEqual(sleeps, [], 'a relist after 410 does not wait');
    await informer.stop();
  });

  it('re-watches from the last seen resourceVersion after an error, with backoff 0.8 s doubling to 30 s', async () => {
    const { lw, informer, sleeps } = setup();
    lw.lists.push({ items: [], resourceVersion: '10' });
    informer.start();
    await settle();
    lw.last().send({ type: 'ADDED', object: obj('a', 'x', '15') });
    lw.last().send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '17' } } });
    for (let i = 0; i < 8; i++) {
      lw.last().end({ kind: 'error', error: new Error('connection refused') });
      await settle();
    }
    assert.deepEqual(sleeps, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
    assert.equal(lw.listCalls.length, 1, 'errors other than 410 do not relist');
    assert.ok(lw.watches.slice(1).every((w) => w.rv === '17'), 'every re-watch starts at the last seen resourceVersion (a bookmark counts)');
    await informer.stop();
  });

  it('treats a silent connection like an error and never gives up on list failures', async () => {
    const { lw, informer, sleeps } = setup();
    lw.lists.push(new Error('503'), new Error('503'), { items: [obj('a', 'x', '1')], resourceVersion: '10' });
    informer.start();
    await settle(10);
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(sleeps, [800, 1600]);
    lw.last().end({ kind: 'silent' });
    await settle();
    assert.deepEqual(sleeps, [800, 1600, 3200]);
    assert.equal(lw.last().rv, '10');
    await informer.stop();
  });

  it('resets the backoff after two minutes without trouble', async () => {
    const { lw, informer, sleeps, clock } = setup();
    lw.lists.push({ items: [], resourceVersion: '10' });
    informer.start();
    await settle();
    for (let i = 0; i < 3; i++) {
      lw.last().end({ kind: 'error', error: new Error('x') });
      await settle();
    }
    clock.t += 121_000;
    lw.last().end({ kind: 'error', error: new Error('x') });
    await settle();
    assert.deepEqual(sleeps, [800, 1600, 3200, 800]);
    await informer.stop();
  });

  it('starts the backoff over when the watch that broke had run 5 s or delivered an event (cuts a minute apart stay at 0.8 s)', async () => {
    const { lw, informer, sleeps, clock } = setup();
    lw.lists.push({ items: [], resourceVersion: '10' });
    informer.start();
    await settle();
    // Refused twice in a row: the backoff climbs.
    lw.last().end({ kind: 'error', error: new Error('refused') });
    await settle();
    lw.last().end({ kind: 'error', error: new Error('refused') });
    await settle();
    // Then healthy watches, each cut after a minute, as a load balancer does.
    for (let i = 0; i < 4; i++) {
      clock.t += 60_000;
      lw.last().end({ kind: i % 2 === 0 ? 'error' : 'silent', ...(i % 2 === 0 ? { error: new Error('terminated') } : {}) } as WatchEnd);
      await settle();
    }
    // A watch cut after 4 s with nothing on it has not proved anything: the backoff climbs.
    clock.t += 4_000;
    lw.last().end({ kind: 'error', error: new Error('terminated') });
    await settle();
    // One that delivered an event had: it starts over, however short it was.
    lw.last().send({ type: 'ADDED', object: obj('a', 'x', '11') });
    lw.last().end({ kind: 'error', error: new Error('terminated') });
    await settle();
    assert.deepEqual(sleeps, [800, 1600, 800, 800, 800, 800, 1600, 800]);
    await informer.stop();
  });

  it('re-watches at once when the server ends a healthy watch, but backs off a watch that ends instantly', async () => {
    const { lw, informer, sleeps, clock } = setup();
    lw.lists.push({ items: [], resourceVersion: '10' });
    informer.start();
    await settle();
    clock.t += 300_000;
    lw.last().end({ kind: 'closed' });
    await settle();
    assert.deepEqual(sleeps, []);
    assert.equal(lw.watches.length, 2);
    lw.last().end({ kind: 'closed' });
    await settle();
    assert.deepEqual(sleeps, [800], 'an instant empty close is not a healthy watch');
    await informer.stop();
  });

  it('keeps no managedFields in the cache', async () => {
    const { lw, informer } = setup();
    const withFields = obj('a', 'x', '1', 1);
    (withFields.metadata as { managedFields?: unknown[] }).managedFields = [{ manager: 'modelship', operation: 'Apply', fieldsV1: { 'f:spec': {} } }];
    lw.lists.push({ items: [withFields], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    assert.equal((informer.get('a', 'x')?.metadata as { managedFields?: unknown }).managedFields, undefined);
    assert.equal(informer.get('a', 'x')?.spec?.n, 1);
    await informer.stop();
  });

  it('hands out frozen objects', async () => {
    const { lw, informer } = setup();
    lw.lists.push({ items: [obj('a', 'x', '1', 1)], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    const cached = informer.get('a', 'x');
    assert.ok(cached?.spec);
    const spec = cached.spec;
    assert.throws(() => {
      spec.n = 2;
    }, TypeError);
    assert.throws(() => {
      (cached.metadata as { name?: string }).name = 'y';
    }, TypeError);
    await informer.stop();
  });

  it('watches each listed namespace separately and syncs only when all have listed', async () => {
    const { lw, informer } = setup(['a', 'b']);
    lw.lists.push({ items: [obj('a', 'x', '1'), obj('b', 'y', '2'), obj('c', 'z', '3')], resourceVersion: '10' });
    informer.start();
    await settle();
    assert.equal(informer.hasSynced(), false, 'b has not listed yet');
    lw.lists.push({ items: [obj('a', 'x', '1'), obj('b', 'y', '2'), obj('c', 'z', '3')], resourceVersion: '11' });
    // The b loop is in its list backoff; the next attempt lists.
    await settle(10);
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(lw.listCalls.slice(0, 2), ['a', 'b']);
    assert.deepEqual(informer.list().map((o) => o.metadata?.name).sort(), ['x', 'y']);
    assert.deepEqual(new Set(lw.watches.map((w) => w.namespace)), new Set(['a', 'b']));
    await informer.stop();
  });

  it('keeps going when a handler throws', async () => {
    const { lw, informer, events } = setup();
    informer.on({
      add: () => {
        throw new Error('handler bug');
      },
    });
    lw.lists.push({ items: [obj('a', 'x', '1')], resourceVersion: '10' });
    informer.start();
    await settle();
    lw.last().send({ type: 'ADDED', object: obj('a', 'y', '11') });
    assert.deepEqual(events, ['add x@1', 'add y@11']);
    assert.ok(informer.get('a', 'y'));
    await informer.stop();
  });

  it('counts open watches and why each ended on /metrics, so a leak or a relist shows', async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const { lw, informer } = setup(['a', 'b'], metrics);
    const open = async () => (await metrics.watchesOpen.get()).values.find((v) => v.labels.kind === 'Thing')?.value;
    const ends = async (reason: string) => (await metrics.watchEnds.get()).values.find((v) => v.labels.kind === 'Thing' && v.labels.reason === reason)?.value ?? 0;
    lw.lists.push({ items: [], resourceVersion: '1' }, { items: [], resourceVersion: '1' }, { items: [], resourceVersion: '2' });
    informer.start();
    await settle();
    assert.equal(await open(), 2, 'one watch per namespace');
    lw.watches[0]?.end({ kind: 'gone' });
    lw.watches[1]?.end({ kind: 'silent' });
    await settle();
    assert.equal(await ends('gone'), 1);
    assert.equal(await ends('silent'), 1);
    assert.equal(await open(), 2, 'both reopened');
    await informer.stop();
    assert.equal(await open(), 0, 'none left open after stop');
    assert.equal(await ends('stopped'), 2);
  });

  it('stop() ends the loops and a pending waitForSync', async () => {
    const { lw, informer } = setup();
    lw.lists.push(new Error('down'));
    informer.start();
    const waiting = informer.waitForSync();
    await informer.stop();
    assert.equal(await waiting, false);
    assert.ok(lw.listCalls.length >= 1);
  });
});

describe('diffList', () => {
  it('finds added, changed and removed objects; same resourceVersion is no change', () => {
    const cached = new Map([
      ['a/x', obj('a', 'x', '1')],
      ['a/y', obj('a', 'y', '2')],
      ['a/z', obj('a', 'z', '3')],
    ]);
    const d = diffList(cached, [obj('a', 'x', '1'), obj('a', 'y', '9'), obj('a', 'w', '4')]);
    assert.deepEqual(d.added.map((o) => o.metadata?.name), ['w']);
    assert.deepEqual(d.updated.map((u) => `${u.old.metadata?.resourceVersion}->${u.obj.metadata?.resourceVersion}`), ['2->9']);
    assert.deepEqual(d.deleted.map((o) => o.metadata?.name), ['z']);
  });
});

describe('ReconnectBackoff', () => {
  it('doubles from 0.8 s, caps at 30 s, and resets after 2 minutes', () => {
    let t = 0;
    const b = new ReconnectBackoff(() => t);
    const seq = Array.from({ length: 8 }, () => b.next());
    assert.deepEqual(seq, [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
    t += 120_000;
    assert.equal(b.next(), 30000, 'exactly 2 minutes is not yet a reset');
    t += 120_001;
    assert.equal(b.next(), 800);
  });
});

describe('Informer cache transform and index', () => {
  it('keeps what the transform returns, and finds objects by their index value as they move', async () => {
    const lw = new ScriptedLW();
    const informer = new Informer<Obj>({
      apiVersion: 'v1',
      kind: 'Thing',
      listerWatcher: (ns) => lw.for(ns),
      transform: (o) => ({ ...o, spec: { n: (o.spec?.n ?? 0) * 10 } }),
      index: (o) => (o.spec && o.spec.n > 0 ? `group-${o.spec.n}` : undefined),
    });
    lw.lists.push({ items: [obj('a', 'x', '1', 1), obj('a', 'y', '2', 1), obj('a', 'z', '3', 0)], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await settle();
    assert.equal(informer.get('a', 'x')?.spec?.n, 10, 'the cache holds the transformed object');
    assert.ok(Object.isFrozen(informer.get('a', 'x')), 'frozen');
    assert.deepEqual(informer.byIndex('group-10').map((o) => o.metadata?.name).sort(), ['x', 'y']);
    assert.deepEqual(informer.byIndex('group-0'), [], 'no index value, not indexed');
    const w = lw.last();
    w.send({ type: 'MODIFIED', object: obj('a', 'y', '11', 2) });
    w.send({ type: 'DELETED', object: obj('a', 'x', '12', 1) });
    w.send({ type: 'MODIFIED', object: obj('a', 'z', '13', 2) });
    assert.deepEqual(informer.byIndex('group-10'), [], 'moved away and deleted');
    assert.deepEqual(informer.byIndex('group-20').map((o) => o.metadata?.name).sort(), ['y', 'z']);
    await informer.stop();
  });
});

describe('Informer read-your-writes (assume)', () => {
  it('returns what our write returned until the watch delivers that version, and hides what we deleted', async () => {
    const lw = new ScriptedLW();
    const informer = new Informer<Obj>({ apiVersion: 'v1', kind: 'Thing', listerWatcher: (ns) => lw.for(ns), index: () => 'all' });
    lw.lists.push({ items: [obj('a', 'x', '5', 1), obj('a', 'y', '6', 1)], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await settle();
    informer.assume(obj('a', 'x', '11', 2));
    assert.equal(informer.get('a', 'x')?.spec?.n, 2, 'our write, before the watch has it');
    assert.ok(Object.isFrozen(informer.get('a', 'x')));
    informer.assumeDeleted('a', 'y');
    assert.equal(informer.get('a', 'y'), undefined, 'our delete, before the watch has it');
    assert.deepEqual(informer.byIndex('all').map((o) => `${o.metadata?.name}:${o.spec?.n}`), ['x:2']);
    const w = lw.last();
    w.send({ type: 'MODIFIED', object: obj('a', 'x', '9', 7) });
    assert.equal(informer.get('a', 'x')?.spec?.n, 2, 'an older version from the watch does not win over our write');
    w.send({ type: 'MODIFIED', object: obj('a', 'x', '12', 3) });
    assert.equal(informer.get('a', 'x')?.spec?.n, 3, 'the watch caught up (and moved on): the cache again');
    w.send({ type: 'DELETED', object: obj('a', 'y', '13', 1) });
    assert.equal(informer.get('a', 'y'), undefined);
    w.send({ type: 'ADDED', object: { ...obj('a', 'y', '14', 5), metadata: { ...obj('a', 'y', '14', 5).metadata, uid: 'new' } } });
    assert.equal(informer.get('a', 'y')?.spec?.n, 5, 'a new object of the same name shows');
    // Our write of an object that is then deleted by someone else: the delete wins at once.
    informer.assume(obj('a', 'y', '20', 9));
    w.send({ type: 'DELETED', object: obj('a', 'y', '21', 9) });
    assert.equal(informer.get('a', 'y'), undefined, 'a deleted object never comes back from an assumed write');
    assert.deepEqual(informer.byIndex('all').map((o) => o.metadata?.name), ['x']);
    // And the late answer of a write about an object the watch already reported deleted is ignored.
    const x = { ...obj('a', 'x', '30', 3), metadata: { ...obj('a', 'x', '30', 3).metadata, uid: 'ux' } };
    w.send({ type: 'MODIFIED', object: x });
    w.send({ type: 'DELETED', object: x });
    informer.assume({ ...x, metadata: { ...x.metadata, resourceVersion: '31' } });
    assert.equal(informer.get('a', 'x'), undefined);
    await informer.stop();
  });

  it("gives the watch what our writes returned, by resourceVersion, until each comes back; an echo is cached as the write's object", async () => {
    const { lw, informer, events, clock } = setup();
    const withUid = (o: Obj, uid: string): Obj => ({ ...o, metadata: { ...o.metadata, uid } });
    lw.lists.push({ items: [withUid(obj('a', 'x', '5', 1), 'ux')], resourceVersion: '10' });
    informer.start();
    await informer.waitForSync();
    await settle();
    const w = lw.last();
    assert.ok(w.known, 'the watch is given the writes it may see again');
    informer.assume(withUid(obj('a', 'x', '11', 2), 'ux'));
    const written = informer.get('a', 'x');
    assert.equal(w.known('11')?.object, written);
    assert.equal(w.known('11')?.uid, 'ux');
    assert.equal(w.known('5'), undefined, 'only versions our writes returned');
    // The watch found the event to be that version of that object: it delivers the write's object.
    w.send({ type: 'MODIFIED', object: written as Obj, cached: true });
    assert.equal(informer.get('a', 'x'), written, 'cached as it is, not transformed again');
    assert.equal(informer.echoesReused, 1);
    assert.deepEqual(events.slice(-1), ['update x@5->11'], 'handlers see the change as for any event');
    assert.equal(w.known('11'), undefined, 'each echo is used once');
    // A write whose version comes back decoded (the watch could not tell it was ours) is dropped too.
    informer.assume(withUid(obj('a', 'x', '12', 3), 'ux'));
    w.send({ type: 'MODIFIED', object: withUid(obj('a', 'x', '12', 3), 'ux') });
    assert.equal(w.known('12'), undefined);
    assert.equal(informer.echoesReused, 1);
    // An object without a uid (no such write answer from the API server) is never given.
    informer.assume(obj('a', 'x', '13', 4));
    assert.equal(w.known('13'), undefined);
    // A write that changed nothing answers with a version the watch delivered long ago: its entry
    // goes once older than any assumption, at the next write.
    informer.assume(withUid(obj('a', 'x', '12', 3), 'ux'));
    assert.ok(w.known('12'));
    clock.t += ASSUME_TTL_MS + 1;
    informer.assume(withUid(obj('a', 'x', '14', 5), 'ux'));
    assert.equal(w.known('12'), undefined);
    assert.ok(w.known('14'));
    await informer.stop();
  });
});

describe('Informer: the list keeps only what the cache keeps, item by item', () => {
  it('hands the lister its transform, so a relist never holds every object as decoded, and transforms each object once', async () => {
    let transformed = 0;
    let keepGiven = false;
    const informer = new Informer<Obj>({
      apiVersion: 'v1',
      kind: 'Thing',
      transform: (o) => {
        transformed++;
        return { ...o, spec: { n: (o.spec?.n ?? 0) * 10 } };
      },
      listerWatcher: () => ({
        list: async (_signal, keep) => {
          keepGiven = typeof keep === 'function';
          const raw = [obj('a', 'x', '1', 1), obj('a', 'y', '2', 2)];
          return { items: raw.map(keep), resourceVersion: '2' };
        },
        watch: (_rv, _onEvent, signal) => new Promise<WatchEnd>((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'stopped' }), { once: true })),
      }),
    });
    informer.start();
    assert.equal(await informer.waitForSync(), true);
    assert.equal(keepGiven, true, 'the lister was given the transform');
    assert.equal(transformed, 2, 'each listed object was transformed once, not again when stored');
    assert.deepEqual(informer.list().map((o) => o.spec?.n).sort(), [10, 20]);
    assert.ok(informer.list().every((o) => Object.isFrozen(o)));
    await informer.stop();
  });
});
