// The wire format of our requests, checked by capturing what would go to the server (through the
// RestClient's sender seam). No server is imitated: answers are canned.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { HttpKubeClient, type HttpKubeClientOptions } from '../../../operator/src/kube/client.ts';
import { isConflict, isNotFound, KubeApiError, NotLeaderError } from '../../../operator/src/kube/errors.ts';
import { resourcePath } from '../../../operator/src/kube/resources.ts';
import { RestClient, type HttpResponse, type HttpSender } from '../../../operator/src/kube/rest.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';

const SERVER = 'https://k8s.test:6443';

/** A canned answer, as a sender returns it. */
function answer(status: number, text: string): HttpResponse {
  return {
    status,
    text: async () => text,
    async each(onChunk) {
      onChunk(Buffer.from(text));
    },
    cancel() {},
  };
}

function cannedSender(onSend: (req: { method: string; url: URL; headers: Record<string, string>; body?: string }) => HttpResponse): HttpSender {
  return { send: async (req) => onSend({ ...req, url: new URL(SERVER + req.path) }) };
}

interface Sent {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

function setup(answers: Array<{ status: number; body?: unknown }>, options: HttpKubeClientOptions = {}): { client: HttpKubeClient; sent: Sent[]; metrics: ReturnType<typeof createMetrics> } {
  const sent: Sent[] = [];
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const sender = cannedSender((req) => {
    sent.push({ method: req.method, url: req.url, headers: req.headers, body: req.body === undefined ? undefined : JSON.parse(req.body) });
    const a = answers.shift() ?? { status: 200, body: {} };
    return answer(a.status, a.body === undefined ? '' : JSON.stringify(a.body));
  });
  const rest = new RestClient({ server: SERVER, sender }, { metrics });
  return { client: new HttpKubeClient(rest, options), sent, metrics };
}

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'fraud', namespace: 'risk', labels: { 'app.kubernetes.io/managed-by': 'modelship' } },
  spec: { template: { spec: { containers: [{ name: 'server', image: 'img' }] } } },
};

describe('HttpKubeClient', () => {
  it('applies with server-side apply: PATCH, apply content type, field manager modelship, force', async () => {
    const { client, sent } = setup([{ status: 200, body: { ...deployment, metadata: { ...deployment.metadata, uid: 'u1' } } }]);
    const got = (await client.apply(deployment)) as { metadata: { uid?: string } };
    assert.equal(got.metadata.uid, 'u1');
    const req = sent[0];
    assert.ok(req);
    assert.equal(req.method, 'PATCH');
    assert.equal(req.url.pathname, '/apis/apps/v1/namespaces/risk/deployments/fraud');
    assert.equal(req.url.searchParams.get('fieldManager'), 'modelship');
    assert.equal(req.url.searchParams.get('force'), 'true');
    assert.equal(req.headers['Content-Type'], 'application/apply-patch+yaml');
    assert.deepEqual(req.body, deployment, 'the object is sent as is, with no fields added or dropped');
  });

  it("decodes write answers of built-in kinds without managedFields when asked, never a read's or a custom resource's", async () => {
    // Encoded as the API server encodes a built-in kind: managedFields last in metadata, spec next.
    const managedFields = [{ manager: 'modelship', operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } }];
    const stored = { ...deployment, metadata: { ...deployment.metadata, uid: 'u1', managedFields }, spec: deployment.spec, status: { replicas: 1 } };
    const md = { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace: 'risk', managedFields }, spec: {}, status: { observedGeneration: 1 } };
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'risk', name: 'fraud' };
    const answers = () => [stored, stored, stored, stored, stored, stored, md].map((body) => ({ status: 200, body }));
    const calls = async (client: HttpKubeClient) => [
      await client.apply(deployment),
      await client.mergePatch(ref, { spec: {} }),
      await client.jsonPatch(ref, [{ op: 'replace', path: '/spec/replicas', value: 1 }]),
      await client.create(deployment),
      await client.replace(deployment),
      await client.get(ref),
      await client.applyStatus({ apiVersion: md.apiVersion, kind: md.kind, metadata: md.metadata, status: md.status }),
    ].map((o) => (o as { metadata?: { managedFields?: unknown } } | undefined)?.metadata?.managedFields !== undefined);
    const cut = setup(answers(), { writeAnswersWithoutManagedFields: true }).client;
    assert.deepEqual(await calls(cut), [false, false, false, false, false, true, true]);
    const { managedFields: _mf, ...rest } = stored.metadata;
    assert.deepEqual(await setup([{ status: 200, body: stored }], { writeAnswersWithoutManagedFields: true }).client.apply(deployment), { ...stored, metadata: rest });
    assert.deepEqual(await calls(setup(answers()).client), [true, true, true, true, true, true, true]);
  });

  it('applies status on the /status subresource', async () => {
    const { client, sent } = setup([{ status: 200, body: {} }]);
    await client.applyStatus({
      apiVersion: 'serving.modelship.dev/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'fraud', namespace: 'risk' },
      status: { observedGeneration: 2 },
    });
    assert.equal(sent[0]?.url.pathname, '/apis/serving.modelship.dev/v1alpha1/namespaces/risk/modeldeployments/fraud/status');
    assert.equal(sent[0]?.headers['Content-Type'], 'application/apply-patch+yaml');
  });


  it('deletes with a uid precondition and background propagation; a missing object is not an error', async () => {
    const { client, sent } = setup([
      { status: 200, body: { kind: 'Status', status: 'Success' } },
      { status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404, message: 'not found' } },
    ]);
    const ref = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace: 'risk', name: 'fraud' };
    assert.equal(await client.delete(ref, { uid: 'u-123' }), true);
    assert.equal(await client.delete(ref), false);
    assert.equal(sent[0]?.method, 'DELETE');
    assert.equal(sent[0]?.url.pathname, '/apis/autoscaling/v2/namespaces/risk/horizontalpodautoscalers/fraud');
    assert.deepEqual(sent[0]?.body, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: 'u-123' } });
  });

  it('turns API errors into KubeApiError with the Status reason and message', async () => {
    const { client } = setup([{ status: 409, body: { kind: 'Status', reason: 'Conflict', code: 409, message: 'the object has been modified' } }]);
    await assert.rejects(
      client.replace({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns', resourceVersion: '1' } }),
      (err: unknown) => {
        assert.ok(err instanceof KubeApiError);
        assert.ok(isConflict(err));
        assert.ok(!isNotFound(err));
        assert.match(err.message, /PUT .*leases\/l failed with 409 Conflict: the object has been modified/);
        return true;
      },
    );
  });

  it('get returns undefined for a missing object', async () => {
    const { client } = setup([{ status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404 } }]);
    assert.equal(await client.get({ apiVersion: 'v1', kind: 'Service', namespace: 'a', name: 'b' }), undefined);
  });

  it('lists every page, fills in apiVersion and kind, and keeps the first page resourceVersion', async () => {
    const { client, sent } = setup([
      { status: 200, body: { metadata: { resourceVersion: '100', continue: 'tok' }, items: [{ metadata: { name: 'a', namespace: 'n' } }] } },
      { status: 200, body: { metadata: { resourceVersion: '100' }, items: [{ metadata: { name: 'b', namespace: 'n' } }] } },
    ]);
    const list = await client.list('apps/v1', 'Deployment', { labelSelector: 'app.kubernetes.io/managed-by=modelship' });
    assert.equal(list.resourceVersion, '100');
    assert.deepEqual(list.items.map((i) => [i.apiVersion, i.kind, i.metadata?.name]), [['apps/v1', 'Deployment', 'a'], ['apps/v1', 'Deployment', 'b']]);
    assert.equal(sent[0]?.url.pathname, '/apis/apps/v1/deployments');
    assert.equal(sent[0]?.url.searchParams.get('labelSelector'), 'app.kubernetes.io/managed-by=modelship');
    assert.equal(sent[1]?.url.searchParams.get('continue'), 'tok');
  });

  it('counts every request in rest_client_requests_total by code, method and host', async () => {
    const { client, metrics } = setup([{ status: 200, body: {} }, { status: 404, body: { kind: 'Status', code: 404 } }]);
    await client.apply(deployment);
    await client.get({ apiVersion: 'v1', kind: 'Service', namespace: 'a', name: 'b' });
    const values = (await metrics.restClientRequests.get()).values.map((v) => `${v.labels.method} ${v.labels.code} ${v.labels.host} ${v.value}`);
    assert.deepEqual(values.sort(), ['GET 404 k8s.test:6443 1', 'PATCH 200 k8s.test:6443 1']);
  });
});

describe('resourcePath', () => {
  const cases: Array<[string, string, string | undefined, string | undefined, string | undefined, string]> = [
    ['v1', 'Service', 'ns', 'svc', undefined, '/api/v1/namespaces/ns/services/svc'],
    ['apps/v1', 'Deployment', undefined, undefined, undefined, '/apis/apps/v1/deployments'],
    ['apps/v1', 'Deployment', 'ns', undefined, undefined, '/apis/apps/v1/namespaces/ns/deployments'],
    ['policy/v1', 'PodDisruptionBudget', 'ns', 'p', undefined, '/apis/policy/v1/namespaces/ns/poddisruptionbudgets/p'],
    ['serving.modelship.dev/v1alpha1', 'ModelDeployment', 'ns', 'm', 'status', '/apis/serving.modelship.dev/v1alpha1/namespaces/ns/modeldeployments/m/status'],
    ['coordination.k8s.io/v1', 'Lease', 'ns', 'l', undefined, '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l'],
    ['v1', 'Namespace', undefined, 'ns', undefined, '/api/v1/namespaces/ns'],
  ];
  for (const [apiVersion, kind, ns, name, sub, want] of cases) {
    it(`${kind} ${ns ?? '*'}/${name ?? ''} ${sub ?? ''}`, () => assert.equal(resourcePath(apiVersion, kind, ns, name, sub), want));
  }
  it('refuses an unknown kind, saying where to add it', () => {
    assert.throws(() => resourcePath('example.com/v1', 'Widget'), /RESOURCE_TYPES/);
  });
});

describe('the write fence', () => {
  it('refuses every request but GET while it throws, before anything is sent', async () => {
    const sent: string[] = [];
    let leading = true;
    const sender = cannedSender((req) => {
      sent.push(req.method);
      return answer(200, '{}');
    });
    const rest = new RestClient(
      { server: SERVER, sender },
      {
        metrics: createMetrics(new Registry(), { defaultMetrics: false }),
        writeFence: () => {
          if (!leading) throw new NotLeaderError();
        },
      },
    );
    const client = new HttpKubeClient(rest);
    await client.apply(deployment);
    leading = false;
    await assert.rejects(client.apply(deployment), NotLeaderError);
    await assert.rejects(client.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'risk', name: 'fraud' }), NotLeaderError);
    await assert.rejects(client.create({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'risk' } }), NotLeaderError);
    await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'risk', name: 'fraud' });
    assert.deepEqual(sent, ['PATCH', 'GET'], 'the refused writes never left');
    // Another client on the same credentials, without the fence (the elector's own).
    await new HttpKubeClient(rest.withOptions({ metrics: createMetrics(new Registry(), { defaultMetrics: false }) })).apply(deployment);
    assert.deepEqual(sent, ['PATCH', 'GET', 'PATCH']);
  });
});

