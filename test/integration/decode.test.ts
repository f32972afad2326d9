// The operator's watch and list on the real API server: for every built-in kind the operator
// caches, an event and a list item decode to exactly the object the server serves, less its
// managedFields, which they cut out of the text before decoding (operator/src/kube/decode.ts,
// withoutManagedFields), and, when asked (the pod and ReplicaSet caches), less the spec but its
// replicas (withoutSpec). This is the proof that the server encodes those kinds as the cuts expect,
// in what it serves and in its answers to the operator's applies; and that the watch's echo of a
// write of ours, taken as the write's answer without decoding (echoOf), is the server's object.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { HttpKubeClient } from '../../operator/src/kube/client.ts';
import type { KubeObject } from '../../operator/src/kube/types.ts';
import { isBuiltIn } from '../../operator/src/kube/decode.ts';
import { Informer } from '../../operator/src/kube/informer.ts';
import { restListerWatcher } from '../../operator/src/kube/watch.ts';
import { adminRest, eventually, installCrd, kubectl, useNamespace } from './harness.ts';

const LABELS = { 'app.kubernetes.io/managed-by': 'modelship', 'app.kubernetes.io/instance': 'decode' };
const KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
];

function children(): object[] {
  const selector = { matchLabels: LABELS };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'decode', labels: LABELS, annotations: { note: '"managedFields":[]},"spec":{' } },
      spec: { replicas: 2, selector, template: { metadata: { labels: LABELS, annotations: { note: '},"status":{' } }, spec: { containers: [{ name: 'spec', image: 'registry.example/server:1', ports: [{ name: 'http', containerPort: 8080 }], resources: { requests: { cpu: '100m', memory: '64Mi' } } }] } } },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'decode', labels: LABELS }, spec: { selector: LABELS, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'decode', labels: LABELS },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'decode' }, minReplicas: 2, maxReplicas: 4, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'decode', labels: LABELS }, spec: { maxUnavailable: 1, selector } },
  ];
}

describe("the operator's watch on a real API server", () => {
  before(() => installCrd());

  it('refuses a custom resource group without a dot, so isBuiltIn never takes a custom resource for a built-in kind', () => {
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'things.nodot' }, spec: { group: 'nodot', scope: 'Namespaced', names: { plural: 'things', singular: 'thing', kind: 'Thing' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }] } };
    assert.equal(isBuiltIn('nodot/v1'), true);
    assert.throws(() => kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(crd) }), /spec\.group: Invalid value: "nodot": should be a domain with at least one dot/);
  });

  it('decodes each built-in kind it caches, watched and listed, as the server serves it, without managedFields, and without the spec but its replicas when asked', async (t) => {
    const ns = useNamespace(t, 'decode');
    kubectl(['apply', '--server-side', '--field-manager=modelship', '-n', ns, '-f', '-'], { input: children().map((c) => JSON.stringify(c)).join('\n') });
    const rest = adminRest();
    const client = new HttpKubeClient(rest);
    // Written by several managers by then: the apply, the controllers, kwok (the pods' status).
    await eventually('the Deployment available with 2 ready pods', async () => {
      const d = await client.get<KubeObject & { status?: { readyReplicas?: number } }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'decode' });
      return d?.status?.readyReplicas === 2;
    });

    for (const { apiVersion, kind } of KINDS) {
      // A version is compared only when the GET and the watch served the same resourceVersion.
      const compared = await eventually(`${kind}: every object watched and read at the same version`, async () => {
        const observe = async (withoutSpec: boolean) => {
          const lw = restListerWatcher<KubeObject>(rest, { apiVersion, kind, namespace: ns, labelSelector: 'app.kubernetes.io/instance=decode', withoutSpec });
          const listed = await lw.list(new AbortController().signal, (o) => o);
          const names = listed.items.map((o) => o.metadata?.name ?? '');
          const watched = new Map<string, KubeObject>();
          const stop = new AbortController();
          const timer = setTimeout(() => stop.abort(), 5000);
          // From resourceVersion 0: the server's ADDED for each object it holds, then changes.
          await lw.watch('0', (e) => {
            if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return;
            watched.set(e.object.metadata?.name ?? '', e.object);
            if (names.every((n) => watched.has(n))) stop.abort();
          }, stop.signal);
          clearTimeout(timer);
          return { names, listed: listed.items, watched };
        };
        const [whole, lean] = [await observe(false), await observe(true)];
        const pairs: Array<{ got: KubeObject; seen: KubeObject; listedAs: KubeObject; seenLean: KubeObject; listedLean: KubeObject }> = [];
        for (const [i, name] of whole.names.entries()) {
          const got = await client.get<KubeObject>({ apiVersion, kind, namespace: ns, name });
          const seen = whole.watched.get(name);
          const listedAs = whole.listed[i];
          const seenLean = lean.watched.get(name);
          const listedLean = lean.listed[i];
          const version = got?.metadata?.resourceVersion;
          if (!got || !seen || !listedAs || !seenLean || !listedLean || lean.names[i] !== name) return false;
          if ([seen, listedAs, seenLean, listedLean].some((o) => o.metadata?.resourceVersion !== version)) return false;
          pairs.push({ got, seen, listedAs, seenLean, listedLean });
        }
        return pairs.length > 0 && pairs;
      }, 60_000, 500);
      assert.equal(compared.length, kind === 'Pod' ? 2 : 1, kind);
      for (const { got, seen, listedAs, seenLean, listedLean } of compared) {
        const name = got.metadata?.name;
        assert.ok((got.metadata?.managedFields?.length ?? 0) > 0, `${kind} ${name} is served with managedFields, or this proves nothing`);
        assert.equal('managedFields' in (seen.metadata ?? {}), false, `${kind} ${name}: the watch decoded its managedFields`);
        const { managedFields: _mf, ...metadata } = got.metadata ?? {};
        assert.deepEqual(seen, { ...got, metadata }, `${kind} ${name}, watched`);
        assert.equal('managedFields' in (listedAs.metadata ?? {}), false, `${kind} ${name}: the list decoded its managedFields`);
        assert.deepEqual(listedAs, { ...got, metadata }, `${kind} ${name}, listed`);
        // Without the spec: what is left is the object less its spec, with the replicas if it has them.
        const spec = (got as { spec?: { replicas?: number } }).spec ?? {};
        assert.ok(Object.keys(spec).length > 1 && 'status' in got, `${kind} ${name} is served with a spec to cut and a status, or this proves nothing`);
        const lean = { ...got, metadata, spec: spec.replicas === undefined ? {} : { replicas: spec.replicas } };
        assert.deepEqual(seenLean, lean, `${kind} ${name}, watched without its spec`);
        assert.deepEqual(listedLean, lean, `${kind} ${name}, listed without its spec`);
      }
    }
  });

  it("decodes the server's answer to an apply of each child kind without managedFields, as the operator's client asks", async (t) => {
    const ns = useNamespace(t, 'decode-writes');
    const rest = adminRest();
    const whole = new HttpKubeClient(rest);
    const cut = new HttpKubeClient(rest, { writeAnswersWithoutManagedFields: true });
    for (const child of children() as Array<KubeObject & { apiVersion: string; kind: string; metadata: { name: string } }>) {
      const obj = { ...child, metadata: { ...child.metadata, namespace: ns } };
      // The same apply twice changes nothing the second time: both answers are the same version,
      // unless a controller wrote the object in between (then both are sent again).
      const [a, b] = await eventually(`${child.kind}: two answers of the same version`, async () => {
        const first = await whole.apply(obj);
        const second = await cut.apply(obj);
        return first.metadata?.resourceVersion === second.metadata?.resourceVersion && [first, second];
      }, 30_000, 200);
      assert.ok((a.metadata?.managedFields?.length ?? 0) > 0, `${child.kind}: the answer holds managedFields, or this proves nothing`);
      const { managedFields: _mf, ...metadata } = a.metadata ?? {};
      assert.deepEqual(b, { ...a, metadata }, `${child.kind}: the cut answer is the whole answer less its managedFields`);
    }
  });

  it("takes the watch's echo of each of its writes (a child's apply, a ModelDeployment's status) as the object the write returned, which is the server's object at that version", async (t) => {
    const ns = useNamespace(t, 'decode-echoes');
    const rest = adminRest();
    // The operator's client: answers decoded without managedFields (main.ts).
    const client = new HttpKubeClient(rest, { writeAnswersWithoutManagedFields: true });
    const md = { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'decode', namespace: ns }, spec: { model: { uri: 's3://models/decode', format: 'sklearn' } } };
    await client.apply(md, { fieldManager: 'decode-tests' });
    type Obj = KubeObject & { apiVersion: string; kind: string; metadata: { name: string } };
    const writes: Array<{ apiVersion: string; kind: string; write: (i: number) => Promise<KubeObject> }> = [
      ...(children() as Obj[]).map((c) => ({
        apiVersion: c.apiVersion,
        kind: c.kind,
        write: (i: number) => client.apply({ ...c, metadata: { ...c.metadata, namespace: ns, labels: { ...(c.metadata as { labels?: object }).labels, write: String(i) } } }),
      })),
      {
        apiVersion: md.apiVersion,
        kind: md.kind,
        write: (i: number) => client.applyStatus({ apiVersion: md.apiVersion, kind: md.kind, metadata: { name: 'decode', namespace: ns }, status: { observedGeneration: i } }),
      },
    ];
    for (const { apiVersion, kind, write } of writes) {
      const informer = new Informer<KubeObject>({ apiVersion, kind, namespaces: [ns], rest });
      informer.start();
      try {
        await informer.waitForSync();
        // Each write's answer is assumed, as the operator does; its echo may come before the answer
        // (then it is decoded as usual: under load, five writes of a status in a row once all
        // did), so up to 40 writes until at least one echo is taken and 5 were made; every version is compared.
        let compared = 0;
        let writes = 0;
        for (let i = 1; i <= 40 && (i <= 5 || informer.echoesReused === 0); i++) {
          writes = i;
          const answer = await write(i);
          informer.assume(answer);
          const rv = answer.metadata?.resourceVersion;
          const name = answer.metadata?.name ?? '';
          // The watch has brought that version (or a later one, when a controller wrote the object since).
          const cached = await eventually(`${kind}: version ${rv} or later in the cache from the watch`, () => {
            const o = informer.list(ns).find((x) => x.metadata?.name === name);
            return o && BigInt(o.metadata?.resourceVersion ?? 0) >= BigInt(rv ?? 0) && o;
          }, 30_000, 20);
          const server = await client.get<KubeObject>({ apiVersion, kind, namespace: ns, name });
          if (!server || cached.metadata?.resourceVersion !== rv || server.metadata?.resourceVersion !== rv) continue; // not the same version
          const { managedFields: _mf, ...metadata } = server.metadata ?? {};
          assert.deepEqual(cached, { ...server, metadata }, `${kind} at ${rv}: the cached object is the server's`);
          compared++;
        }
        t.diagnostic(`${kind}: ${writes} writes, ${informer.echoesReused} came back as their answers, ${compared} compared with the server's`);
        assert.ok(compared >= 1, `${kind}: no version was read back before a controller wrote it again`);
        assert.ok(informer.echoesReused >= 1, `${kind}: no write of ${writes} came back as its answer`);
      } finally {
        await informer.stop();
      }
    }
  });
});
