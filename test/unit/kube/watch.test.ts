// The watch and the list decode a built-in kind's objects without their managedFields, cut out of
// the text in the order the API server encodes Go types (test/integration/decode.test.ts checks
// that order on the real server); custom resources, encoded with sorted keys, are decoded whole.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { RestClient, type HttpResponse } from '../../../operator/src/kube/rest.ts';
import { decode, echoOf, isBuiltIn, withoutManagedFields, withoutSpec, type Echo } from '../../../operator/src/kube/decode.ts';
import { restListerWatcher, type WatchEvent } from '../../../operator/src/kube/watch.ts';
import type { KubeObject } from '../../../operator/src/kube/types.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';

// Keys in the order of the Go types (ObjectMeta ends with managedFields), with entries whose
// strings and fieldsV1 keys hold the very text the cut looks for, escaped as JSON escapes it.
const managedFields = [
  { manager: 'odd]},"spec":{"manager', operation: 'Apply', apiVersion: 'apps/v1', time: '2026-12-01T03:20:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"spec"}': { '.': {}, 'f:image': {} } } } } } } },
  { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'apps/v1', time: '2026-12-01T03:20:01Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Available"}': {} } } }, subresource: 'status' },
];
const deployment = {
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  metadata: {
    name: 'fraud',
    namespace: 'risk',
    uid: 'u1',
    resourceVersion: '12',
    labels: { 'app.kubernetes.io/managed-by': 'modelship' },
    annotations: { note: '"managedFields":[1]},"spec":{' },
    ownerReferences: [{ apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', name: 'fraud', uid: 'm1', controller: true }],
    managedFields,
  },
  spec: { replicas: 2, template: { metadata: { labels: { app: 'fraud' }, finalizers: ['x'] }, spec: { containers: [{ name: 'spec', image: 'img' }] } } },
  status: { replicas: 2, conditions: [{ type: 'Available', status: 'True' }] },
};
const withoutMf = (o: typeof deployment) => {
  const { managedFields: _mf, ...metadata } = o.metadata;
  return { ...o, metadata };
};

// A custom resource as the API server encodes it: every map's keys sorted, so managedFields is
// followed by name, and a pod template in its spec holds `]},"spec":{` of its own.
const custom = {
  apiVersion: 'serving.modelship.dev/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { generation: 1, managedFields: [{ apiVersion: 'serving.modelship.dev/v1alpha1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} }, manager: 'kubectl', operation: 'Apply' }], name: 'fraud', namespace: 'risk', resourceVersion: '13', uid: 'm1' },
  spec: { podTemplate: { metadata: { finalizers: ['a'] }, spec: { containers: [] } } },
};

/** A ListerWatcher whose every request is answered with `text`, in chunks of `size` bytes. */
function answering<T extends KubeObject>(apiVersion: string, kind: string, text: string, size: number, opts: { metadataOnly?: boolean; withoutSpec?: boolean } = {}) {
  const response: HttpResponse = {
    status: 200,
    text: async () => text,
    async each(onChunk) {
      const bytes = Buffer.from(text);
      for (let i = 0; i < bytes.length; i += size) onChunk(bytes.subarray(i, i + size));
    },
    cancel() {},
  };
  const rest = new RestClient({ server: 'https://k8s.test:6443', sender: { send: async () => response } }, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
  return restListerWatcher<T>(rest, { apiVersion, kind, ...opts });
}

function watchOf<T extends KubeObject>(
  apiVersion: string,
  kind: string,
  lines: string[],
  opts: { metadataOnly?: boolean; chunk?: number; withoutSpec?: boolean; known?: (rv: string) => Echo<T> | undefined } = {},
): Promise<Array<WatchEvent<T>>> {
  const { chunk, known, ...lwOpts } = opts;
  const lw = answering<T>(apiVersion, kind, lines.join('\n') + '\n', chunk ?? 97, lwOpts);
  const events: Array<WatchEvent<T>> = [];
  return lw.watch('1', (e) => events.push(e), new AbortController().signal, known).then((end) => {
    assert.deepEqual(end, { kind: 'closed' });
    return events;
  });
}

const line = (type: string, object: unknown): string => JSON.stringify({ type, object });

describe('withoutManagedFields', () => {
  it('cuts out exactly the managedFields of a built-in kind, whatever its strings and keys hold', () => {
    const text = line('MODIFIED', deployment);
    const cut = withoutManagedFields(text);
    assert.deepEqual(JSON.parse(cut), { type: 'MODIFIED', object: withoutMf(deployment) });
    assert.equal(cut.length, text.length - ',"managedFields":'.length - JSON.stringify(managedFields).length);
  });

  it('leaves a line with no managedFields as it is (a bookmark, an object already without them)', () => {
    const bookmark = line('BOOKMARK', { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { resourceVersion: '20' }, spec: { template: {} } });
    assert.equal(withoutManagedFields(bookmark), bookmark);
    const bare = line('ADDED', withoutMf(deployment));
    assert.equal(withoutManagedFields(bare), bare);
  });

  it('tells built-in API groups from custom ones by the dot a custom group must have', () => {
    for (const v of ['v1', 'apps/v1', 'autoscaling/v2', 'policy/v1']) assert.equal(isBuiltIn(v), true, v);
    for (const v of ['serving.modelship.dev/v1alpha1', 'gateway.networking.k8s.io/v1']) assert.equal(isBuiltIn(v), false, v);
  });
});

// A ReplicaSet and a pod in the order of their Go types (metadata, spec with replicas first where
// the kind has it, status), their strings holding the text the spec cut looks for, escaped.
const replicaSet = {
  kind: 'ReplicaSet',
  apiVersion: 'apps/v1',
  metadata: { ...deployment.metadata, name: 'fraud-7c9', annotations: { 'deployment.kubernetes.io/revision': '2', note: '},"status":{"spec":{' } },
  spec: { replicas: 12, selector: { matchLabels: { app: 'fraud' } }, template: { metadata: { annotations: { a: '},"status":{' } }, spec: { containers: [{ name: 'status', image: 'img', args: ['},"status":{'] }] } } },
  status: { replicas: 12, readyReplicas: 3, conditions: [] },
};
const pod = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { ...deployment.metadata, name: 'fraud-7c9-x1' },
  spec: { volumes: [{ name: 'model', emptyDir: {} }], containers: [{ name: 'server', image: 'img', env: [{ name: 'A', value: '},"status":{' }] }], nodeName: 'n1' },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
};
const lean = <O extends { metadata: object; spec: object }>(o: O, spec: object) => ({ ...withoutMf(o as unknown as typeof deployment), spec }) as unknown as O;

describe('withoutSpec', () => {
  it("empties a ReplicaSet's spec but its replicas, and a pod's whole, whatever their strings hold", () => {
    for (const [obj, spec] of [[replicaSet, { replicas: 12 }], [pod, {}]] as const) {
      const text = withoutManagedFields(line('MODIFIED', obj));
      const cut = withoutSpec(text);
      assert.deepEqual(JSON.parse(cut), { type: 'MODIFIED', object: lean(obj, spec) }, obj.kind);
      assert.equal(cut.length, text.length - JSON.stringify(obj.spec).length + JSON.stringify(spec).length, obj.kind);
      assert.deepEqual(decode(line('MODIFIED', obj), true, true), { type: 'MODIFIED', object: lean(obj, spec) }, obj.kind);
    }
  });

  it('leaves a text with nothing to cut as it is: no spec, a spec of replicas alone or empty, no status', () => {
    const texts = [
      line('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '20' } }),
      line('ADDED', { ...replicaSet, spec: { replicas: 3 } }),
      line('ADDED', { ...pod, spec: {} }),
      line('ADDED', { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p' }, spec: { nodeName: 'n1' } }),
    ];
    for (const text of texts) assert.equal(withoutSpec(text), text);
  });

  it('decodes the whole text when the first `},"status":{` is inside the spec (the cut would not parse)', () => {
    const odd = { ...pod, spec: { containers: [{ name: 'x' }], overhead: { cpu: '1' }, status: { nested: true } } };
    assert.throws(() => JSON.parse(withoutSpec(line('ADDED', odd))) as unknown, SyntaxError, 'the cut must be wrong here, or this test proves nothing');
    assert.deepEqual(decode(line('ADDED', odd), true, true), { type: 'ADDED', object: odd });
    assert.deepEqual(decode(line('ADDED', odd), false, true), { type: 'ADDED', object: odd }, 'never without the managedFields cut (a custom resource)');
  });
});

describe('restListerWatcher decodes events', () => {
  it('of a built-in kind without their managedFields, across chunk boundaries', async () => {
    const scaled = { ...deployment, status: { replicas: 3, conditions: [] } };
    const events = await watchOf('apps/v1', 'Deployment', [line('ADDED', deployment), line('MODIFIED', scaled)], { chunk: 61 });
    assert.deepEqual(events, [
      { type: 'ADDED', object: withoutMf(deployment) },
      { type: 'MODIFIED', object: withoutMf(scaled) },
    ]);
  });

  it('of a built-in kind without their spec but its replicas, when asked', async () => {
    const events = await watchOf('apps/v1', 'ReplicaSet', [line('ADDED', replicaSet), line('MODIFIED', pod)], { chunk: 61, withoutSpec: true });
    assert.deepEqual(events, [
      { type: 'ADDED', object: lean(replicaSet, { replicas: 12 }) },
      { type: 'MODIFIED', object: lean(pod, {}) },
    ]);
    const whole = await watchOf('apps/v1', 'ReplicaSet', [line('ADDED', replicaSet)]);
    assert.deepEqual(whole, [{ type: 'ADDED', object: withoutMf(replicaSet as unknown as typeof deployment) }], 'the spec is kept unless asked');
  });

  it('of a custom resource whole (its keys are sorted: the cut would take the wrong text)', async () => {
    assert.throws(() => JSON.parse(withoutManagedFields(line('ADDED', custom))) as unknown, SyntaxError, 'the cut must be wrong for a custom resource, or this test proves nothing');
    const events = await watchOf('serving.modelship.dev/v1alpha1', 'ModelDeployment', [line('ADDED', custom)]);
    assert.deepEqual(events, [{ type: 'ADDED', object: custom }]);
    const asked = await watchOf('serving.modelship.dev/v1alpha1', 'ModelDeployment', [line('ADDED', custom)], { withoutSpec: true });
    assert.deepEqual(asked, [{ type: 'ADDED', object: custom }], 'withoutSpec is for built-in kinds only');
  });

  it("as the object one of our writes returned, when the event brings that version of it back (not decoded again)", async () => {
    const ours = Object.freeze({ ...withoutMf(deployment) });
    const known = (rv: string): Echo<typeof ours> | undefined => (rv === '12' ? { uid: 'u1', object: ours } : undefined);
    const scaled = { ...deployment, metadata: { ...deployment.metadata, resourceVersion: '13' } };
    const events = await watchOf<typeof ours & KubeObject>('apps/v1', 'Deployment', [line('MODIFIED', deployment), line('MODIFIED', scaled)], { chunk: 61, known });
    assert.equal(events[0]?.object, ours);
    assert.deepEqual(events, [
      { type: 'MODIFIED', object: ours, cached: true },
      { type: 'MODIFIED', object: withoutMf(scaled) },
    ]);
    const metadataOnly = await watchOf<typeof ours & KubeObject>('apps/v1', 'Deployment', [line('MODIFIED', deployment)], { metadataOnly: true, known });
    assert.equal(metadataOnly[0]?.cached, undefined, 'a metadata-only watch serves PartialObjectMetadata: never a write\'s answer');
  });

  it('whole when the cut would not decode: an object of a built-in kind in an unexpected shape', async () => {
    // spec not right after metadata: the first `]},"spec":{` is inside the status.
    const odd = { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'x', managedFields: [{ manager: 'm' }] }, status: { a: { b: [1] }, spec: { c: 1 } } };
    assert.throws(() => JSON.parse(withoutManagedFields(line('ADDED', odd))) as unknown, SyntaxError);
    const events = await watchOf('apps/v1', 'Deployment', [line('ADDED', odd)]);
    assert.deepEqual(events, [{ type: 'ADDED', object: odd }]);
  });
});

describe('echoOf: a watch event that brings back what one of our writes returned', () => {
  const ours = Object.freeze({ written: true });
  const knowing = (rv: string, uid: string) => (v: string): Echo<unknown> | undefined => (v === rv ? { uid, object: ours } : undefined);

  it("a built-in kind's ADDED or MODIFIED event of that version of that object: the write's object", () => {
    for (const type of ['ADDED', 'MODIFIED'] as const) assert.deepEqual(echoOf(line(type, deployment), true, knowing('12', 'u1')), { type, object: ours });
    assert.equal(echoOf(line('MODIFIED', deployment), true, knowing('12', 'u1'))?.object, ours, 'the same object, not a copy');
  });

  it('nothing for another version, another uid, a deletion or a bookmark', () => {
    assert.equal(echoOf(line('MODIFIED', deployment), true, knowing('11', 'u1')), undefined);
    assert.equal(echoOf(line('MODIFIED', deployment), true, knowing('12', 'other')), undefined);
    assert.equal(echoOf(line('DELETED', deployment), true, knowing('12', 'u1')), undefined);
    assert.equal(echoOf(line('BOOKMARK', { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { resourceVersion: '12' } }), true, knowing('12', 'u1')), undefined);
  });

  it("a custom resource (sorted keys): its resourceVersion where metadata ends, before its uid and its spec", () => {
    assert.deepEqual(echoOf(line('MODIFIED', custom), false, knowing('13', 'm1')), { type: 'MODIFIED', object: ours });
    assert.equal(echoOf(line('MODIFIED', custom), true, knowing('13', 'm1')), undefined, "a built-in kind's place for it is not a custom resource's");
    assert.equal(echoOf(line('MODIFIED', deployment), false, knowing('12', 'u1')), undefined, "nor the other way round");
  });

  it("never an annotation's keys that look like a resourceVersion and a uid: the event is decoded", () => {
    // Sorted as the API server encodes a custom resource: the annotations come first in metadata.
    const decoy = {
      apiVersion: custom.apiVersion,
      kind: custom.kind,
      metadata: { annotations: { resourceVersion: '13', uid: 'm1' }, generation: 2, name: 'other', namespace: 'risk', resourceVersion: '14', uid: 'o1' },
      spec: {},
    };
    const text = line('MODIFIED', decoy);
    assert.ok(text.indexOf('"resourceVersion":"13","uid":"m1"}') < text.indexOf('"resourceVersion":"14"'), 'the decoy comes first, or this proves nothing');
    assert.equal(echoOf(text, false, knowing('13', 'm1')), undefined);
    assert.equal(echoOf(text, false, knowing('14', 'o1')), undefined, 'only the first resourceVersion is read: the event is decoded');
  });
});

describe('restListerWatcher lists', () => {
  const listOf = async <T extends KubeObject>(apiVersion: string, kind: string, items: object[], chunk: number, withoutSpec = false): Promise<T[]> => {
    // List items of built-in kinds come without apiVersion and kind, as the API server sends them.
    const text = JSON.stringify({ kind: `${kind}List`, apiVersion, metadata: { resourceVersion: '30' }, items });
    const list = await answering<T>(apiVersion, kind, text, chunk, { withoutSpec }).list(new AbortController().signal, (o) => o);
    assert.equal(list.resourceVersion, '30');
    return list.items;
  };

  it('a built-in kind without its items\' managedFields, in chunks of 1, 7, 61 and 4,096 bytes', async () => {
    const { kind: _k, apiVersion: _a, ...item } = deployment;
    const scaled = { ...item, status: { replicas: 3, conditions: [] } };
    for (const chunk of [1, 7, 61, 4096]) {
      assert.deepEqual(await listOf('apps/v1', 'Deployment', [item, scaled], chunk), [withoutMf(deployment), withoutMf({ ...deployment, status: scaled.status })], `chunks of ${chunk}`);
    }
  });

  it("a built-in kind without its items' spec but the replicas, when asked, in chunks of 1, 61 and 4,096 bytes", async () => {
    const { kind: _k, apiVersion: _a, ...item } = replicaSet;
    for (const chunk of [1, 61, 4096]) {
      assert.deepEqual(await listOf('apps/v1', 'ReplicaSet', [item, item], chunk, true), [lean(replicaSet, { replicas: 12 }), lean(replicaSet, { replicas: 12 })], `chunks of ${chunk}`);
    }
  });

  it('a custom resource whole, and a built-in item in an unexpected shape whole', async () => {
    assert.deepEqual(await listOf('serving.modelship.dev/v1alpha1', 'ModelDeployment', [custom], 53), [custom]);
    const odd = { metadata: { name: 'x', managedFields: [{ manager: 'm' }] }, status: { a: { b: [1] }, spec: { c: 1 } } };
    assert.deepEqual(await listOf('apps/v1', 'Deployment', [odd], 53), [{ ...odd, apiVersion: 'apps/v1', kind: 'Deployment' }]);
  });
});
