// Reconcile behaviour, sample-controller style, on an in-memory stand-in for our own small
// ReconcileDeps interface (a store of objects plus a log of writes). The same behaviours are
// proven against the real control plane in test/integration/controller.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus } from '../../../operator/src/api/types.ts';
import { KubeApiError } from '../../../operator/src/kube/errors.ts';
import { APPLIED_HASH_ANNOTATION, reconcile, type ChildKind, type ReconcileDeps } from '../../../operator/src/controller/reconcile.ts';
import { defaultRenderConfig } from '../../../operator/src/render/index.ts';
import { mdep } from '../api/fixtures.ts';

interface Write {
  verb: 'apply' | 'delete' | 'status' | 'replaceSpec';
  kind: string;
  name: string;
}

class World implements ReconcileDeps {
  mds = new Map<string, ModelDeployment>();
  children = new Map<string, KubernetesObject>();
  writes: Write[] = [];
  events: { type: string; reason: string; message: string }[] = [];
  failApply = new Set<string>();
  /** Kinds whose next apply fails as the API server does when a keyed list item has another owner. */
  invalidOnce = new Set<string>();
  /** Kinds whose writes fail as in a namespace being deleted. */
  terminating = false;
  config = defaultRenderConfig;
  log = { info() {}, warn() {}, debug() {} };
  now = () => new Date('2026-11-27T12:00:00Z');

  put(md: ModelDeployment): void {
    this.mds.set(`${md.metadata.namespace}/${md.metadata.name}`, md);
  }
  getModelDeployment(ns: string, name: string) {
    return this.mds.get(`${ns}/${name}`);
  }
  getChild(kind: ChildKind, ns: string, name: string) {
    return this.children.get(`${kind}/${ns}/${name}`);
  }
  async apply(obj: KubernetesObject) {
    if (this.failApply.has(obj.kind!)) throw Object.assign(new Error('boom'), { body: { message: `admission webhook denied ${obj.kind}` } });
    if (this.terminating) {
      throw new KubeApiError('PATCH', '/x', 403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', message: 'unable to create new content in namespace ml because it is being terminated', details: { causes: [{ type: 'NamespaceTerminating' }] } }, '');
    }
    if (this.invalidOnce.delete(obj.kind!)) {
      throw new KubeApiError('PATCH', '/x', 422, { kind: 'Status', status: 'Failure', reason: 'Invalid', message: 'spec.ports[1].name: Duplicate value: "http"' }, '');
    }
    this.writes.push({ verb: 'apply', kind: obj.kind!, name: obj.metadata!.name! });
    // Like the API server: keep what was applied, and add fields of its own.
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, uid: `uid-${obj.kind}`, resourceVersion: '1' };
    this.children.set(`${obj.kind}/${obj.metadata!.namespace}/${obj.metadata!.name}`, stored);
    return stored;
  }
  async replaceSpec(obj: KubernetesObject) {
    this.writes.push({ verb: 'replaceSpec', kind: obj.kind!, name: obj.metadata!.name! });
    const key = `${obj.kind}/${obj.metadata!.namespace}/${obj.metadata!.name}`;
    this.children.set(key, { ...this.children.get(key)!, spec: structuredClone((obj as { spec?: unknown }).spec) } as KubernetesObject);
    return undefined;
  }
  async deleteChild(kind: ChildKind, ns: string, name: string) {
    this.writes.push({ verb: 'delete', kind, name });
    this.children.delete(`${kind}/${ns}/${name}`);
  }
  async patchStatus(md: ModelDeployment, status: ModelDeploymentStatus) {
    this.writes.push({ verb: 'status', kind: 'ModelDeployment', name: md.metadata.name! });
    const stored = this.mds.get(`${md.metadata.namespace}/${md.metadata.name}`)!;
    this.put({ ...stored, status });
  }
  event(_md: ModelDeployment, type: string, reason: string, message: string) {
    this.events.push({ type, reason, message });
  }
  /** The Deployment controller's part: the rollout completes. */
  rollOut(ns: string, name: string): void {
    const d = this.children.get(`Deployment/${ns}/${name}`) as KubernetesObject & { spec: { replicas?: number }; status?: object };
    const n = d.spec.replicas ?? 2;
    d.metadata = { ...d.metadata, generation: 1 };
    d.status = {
      observedGeneration: 1, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet has successfully progressed.' },
      ],
    };
  }
  clear(): void {
    this.writes = [];
    this.events = [];
  }
}

const KEY = 'ml/demo';
const autoscaled: Partial<ModelDeploymentSpec> = {
  resources: { requests: { cpu: '500m', memory: '1Gi' } },
  autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
};

function ready(w: World) {
  return w.getModelDeployment('ml', 'demo')?.status?.conditions?.find((c) => c.type === 'Ready');
}

describe('reconcile', () => {
  it('creates the Deployment, Service, HPA and PDB with controller ownerReferences', async () => {
    const w = new World();
    w.put(mdep(autoscaled));
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.filter((x) => x.verb === 'apply').map((x) => x.kind), ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);
    for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget'] as const) {
      const child = w.getChild(kind, 'ml', 'demo')!;
      const owner = child.metadata?.ownerReferences?.[0];
      assert.equal(owner?.uid, 'uid-demo');
      assert.equal(owner?.controller, true);
      assert.equal(child.metadata?.labels?.['app.kubernetes.io/managed-by'], 'modelship');
      assert.ok(child.metadata?.annotations?.[APPLIED_HASH_ANNOTATION]);
    }
    assert.equal((w.getChild('Deployment', 'ml', 'demo') as { spec: { replicas?: number } }).spec.replicas, undefined, 'the HPA owns the size');
    assert.deepEqual(w.events.map((e) => [e.type, e.reason, e.message]), [
      ['Normal', 'Created', 'Created Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget demo'],
    ], 'one event for the whole creation, not one per child');
    assert.equal(ready(w)?.status, 'False');
    assert.equal(w.getModelDeployment('ml', 'demo')?.status?.observedGeneration, 1);
  });

  it('turns Ready once the rollout completes, and reports the served model', async () => {
    const w = new World();
    w.put(mdep({ replicas: 2 }));
    await reconcile(w, KEY);
    w.rollOut('ml', 'demo');
    await reconcile(w, KEY);
    assert.equal(ready(w)?.status, 'True');
    assert.equal(w.getModelDeployment('ml', 'demo')?.status?.model?.uri, 's3://acme-models/iris/v1');
    assert.equal(w.getModelDeployment('ml', 'demo')?.status?.readyReplicas, 2);
    assert.ok(w.events.some((e) => e.reason === 'Ready'));
  });

  it('makes no write call in a steady state', async () => {
    const w = new World();
    w.put(mdep(autoscaled));
    await reconcile(w, KEY);
    w.rollOut('ml', 'demo');
    await reconcile(w, KEY);
    w.clear();
    await reconcile(w, KEY);
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, []);
    assert.deepEqual(w.events, []);
  });

  it('restores a child edited by someone else, and only that child', async () => {
    const w = new World();
    w.put(mdep({ replicas: 2 }));
    await reconcile(w, KEY);
    w.rollOut('ml', 'demo');
    await reconcile(w, KEY);
    w.clear();
    const svc = w.getChild('Service', 'ml', 'demo') as KubernetesObject & { spec: { type: string } };
    svc.spec.type = 'NodePort';
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, [{ verb: 'apply', kind: 'Service', name: 'demo' }]);
    assert.equal(w.events[0]?.reason, 'Updated');
    assert.match(w.events[0]?.message ?? '', /Updated Service demo \(Service spec\.type\)/);
  });

  it('replaces the spec when apply alone cannot undo an edit to a keyed list', async () => {
    const w = new World();
    w.put(mdep({ replicas: 2 }));
    await reconcile(w, KEY);
    w.clear();
    const svc = w.getChild('Service', 'ml', 'demo') as KubernetesObject & { spec: { ports: { port: number }[] } };
    svc.spec.ports[0]!.port = 8999;
    w.invalidOnce.add('Service');
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.filter((x) => x.kind === 'Service').map((x) => x.verb), ['replaceSpec', 'apply']);
    assert.equal((w.getChild('Service', 'ml', 'demo') as typeof svc).spec.ports[0]?.port, 80);
  });

  it('stops quietly in a namespace that is being deleted', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.terminating = true;
    await reconcile(w, KEY);
    assert.deepEqual(w.events, [], 'no event and no retry');
    assert.deepEqual(w.writes, []);
  });

  it('recreates a deleted child', async () => {
    const w = new World();
    w.put(mdep(autoscaled));
    await reconcile(w, KEY);
    w.clear();
    w.children.delete('HorizontalPodAutoscaler/ml/demo');
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.filter((x) => x.verb === 'apply'), [{ verb: 'apply', kind: 'HorizontalPodAutoscaler', name: 'demo' }]);
  });

  it('deletes the HPA when autoscaling is removed', async () => {
    const w = new World();
    w.put(mdep(autoscaled));
    await reconcile(w, KEY);
    w.clear();
    const md = mdep({ replicas: 3 });
    md.metadata.generation = 2;
    w.put(md);
    await reconcile(w, KEY);
    assert.ok(w.writes.some((x) => x.verb === 'delete' && x.kind === 'HorizontalPodAutoscaler'));
    assert.equal(w.getChild('HorizontalPodAutoscaler', 'ml', 'demo'), undefined);
    assert.equal((w.getChild('Deployment', 'ml', 'demo') as { spec: { replicas?: number } }).spec.replicas, 3);
  });

  it('reports an invalid spec as InvalidSpec and Stalled, once, and applies nothing', async () => {
    const w = new World();
    w.put(mdep({ autoscaling: { minReplicas: 5, maxReplicas: 2 } }));
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, [{ verb: 'status', kind: 'ModelDeployment', name: 'demo' }]);
    assert.equal(ready(w)?.reason, 'InvalidSpec');
    assert.match(ready(w)?.message ?? '', /spec\.autoscaling/);
    const stalled = w.getModelDeployment('ml', 'demo')?.status?.conditions?.find((c) => c.type === 'Stalled');
    assert.equal(stalled?.status, 'True');
    assert.deepEqual(w.events.map((e) => [e.type, e.reason]), [['Warning', 'InvalidSpec']]);
    w.clear();
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, [], 'no write and no new event for the same invalid spec');
    assert.deepEqual(w.events, []);
  });

  it('refuses to take over a child controlled by another owner', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.children.set('Service/ml/demo', {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'demo', namespace: 'ml', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'other', uid: 'someone-else', controller: true }] },
    });
    await reconcile(w, KEY);
    assert.ok(!w.writes.some((x) => x.kind === 'Service'));
    assert.equal(ready(w)?.reason, 'ChildConflict');
    assert.ok(w.events.some((e) => e.type === 'Warning' && e.reason === 'NotOwned'));
  });

  it('reports a failed apply on the status and as an event, and throws so the key is retried', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.failApply.add('Service');
    await assert.rejects(reconcile(w, KEY), /Applying Service demo failed: admission webhook denied Service/);
    assert.equal(ready(w)?.reason, 'ApplyFailed');
    const reconciling = w.getModelDeployment('ml', 'demo')?.status?.conditions?.find((c) => c.type === 'Reconciling');
    assert.equal(reconciling?.status, 'True');
    assert.ok(w.events.some((e) => e.type === 'Warning' && e.reason === 'ApplyFailed'));
  });

  it('does nothing for a ModelDeployment that is gone or being deleted', async () => {
    const w = new World();
    await reconcile(w, KEY);
    const md = mdep({});
    md.metadata.deletionTimestamp = new Date();
    w.put(md);
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, []);
  });

  it('never mutates the cached ModelDeployment', async () => {
    const w = new World();
    const md = mdep(autoscaled);
    const before = structuredClone(md);
    w.put(md);
    await reconcile(w, KEY);
    assert.deepEqual(md, before);
  });
});
