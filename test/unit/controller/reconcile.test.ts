// Reconcile behaviour, sample-controller style, on an in-memory stand-in for our own small
// ReconcileDeps interface (a store of objects plus a log of writes). The same behaviours are
// proven against the real control plane in test/integration/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubernetesObject, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus } from '../../../operator/src/api/types.ts';
import { KubeApiError, NotLeaderError } from '../../../operator/src/kube/errors.ts';
import { APPLIED_HASH_ANNOTATION, HANDOVER_MANAGER } from '../../../operator/src/controller/children.ts';
import { forget, reconcile, type ApplyCall, type ChildKind, type HTTPRoute, type ReconcileDeps, type Validated } from '../../../operator/src/controller/reconcile.ts';
import type { JsonPatchOp } from '../../../operator/src/kube/client.ts';
import { freezeForCache, StringPool } from '../../../operator/src/kube/types.ts';
import { defaultRenderConfig } from '../../../operator/src/render/index.ts';
import { REVISION_ANNOTATION } from '../../../operator/src/rollout/slots.ts';
import { mdep } from '../api/fixtures.ts';

interface Write {
  verb: 'apply' | 'delete' | 'status' | 'replaceSpec';
  kind: string;
  name: string;
  manager?: string;
  body?: unknown;
}

function apiError(code: number, reason: string, message: string, details?: unknown): KubeApiError {
  return new KubeApiError('PATCH', '/x', code, { kind: 'Status', status: 'Failure', code, reason, message, ...(details ? { details } : {}) }, '');
}

type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

/** A frozen copy, as an informer's cache holds an object. */
function cached<T>(obj: T): T {
  return obj === undefined ? obj : freezeForCache(structuredClone(obj), new StringPool());
}

class World implements ReconcileDeps {
  mds = new Map<string, ModelDeployment>();
  /** What the label-filtered caches hold. */
  children = new Map<string, Obj>();
  /** Objects only a live read sees (unlabelled, made by hand). */
  hidden = new Map<string, Obj>();
  pods: V1Pod[] = [];
  replicaSets: V1ReplicaSet[] = [];
  writes: Write[] = [];
  /** Every apply sent, refused or not. */
  attempts: string[] = [];
  reads: string[] = [];
  events: { type: string; reason: string; message: string }[] = [];
  /** Kind → the error its next applies throw. */
  failApply = new Map<string, unknown>();
  /** Kinds whose next apply fails as the API server does when a keyed list item has another owner. */
  invalidOnce = new Set<string>();
  terminating = false;
  failStatus: unknown;
  refusals = new Map<string, { fingerprint: string; error: unknown }>();
  validated = new Map<string, Validated>();
  config = defaultRenderConfig;
  log = { info() {}, warn() {}, debug() {} };
  now = () => new Date('2026-11-27T12:00:00Z');
  private gen = 1;

  put(md: ModelDeployment): void {
    this.mds.set(`${md.metadata.namespace}/${md.metadata.name}`, md);
  }
  md(): ModelDeployment {
    return this.mds.get(KEY)!;
  }
  // What the caches serve is frozen, as the informer's is (freezeForCache): a pass that writes
  // into a cached object throws here.
  getModelDeployment(ns: string, name: string) {
    return cached(this.mds.get(`${ns}/${name}`));
  }
  getChild(kind: ChildKind, ns: string, name: string) {
    return cached(this.children.get(`${kind}/${ns}/${name}`));
  }
  ownedChildren(kind: ChildKind, uid: string) {
    return [...this.children.entries()].filter(([k, c]) => k.startsWith(`${kind}/`) && c.metadata?.ownerReferences?.some((r) => r.controller && r.uid === uid)).map(([, c]) => cached(c));
  }
  async readReplicaSet() {
    return undefined;
  }
  routes = new Map<string, HTTPRoute>();
  async readRoute(_ns: string, name: string) {
    return this.routes.get(name);
  }
  async patchRoute(_ns: string, name: string, ops: readonly JsonPatchOp[]) {
    this.writes.push({ verb: 'apply', kind: 'HTTPRoute', name, body: ops });
    const r = structuredClone(this.routes.get(name)!);
    const replace = ops.find((o) => o.op === 'replace');
    r.spec!.rules![0]!.backendRefs = replace?.value as never;
    r.metadata = { ...r.metadata, resourceVersion: String(Number(r.metadata?.resourceVersion ?? 0) + 1) };
    this.routes.set(name, r);
    return r;
  }
  replicaSetsOf() {
    return this.replicaSets.map(cached);
  }
  podsOf() {
    return this.pods.map(cached);
  }
  nameTaken(kind: ChildKind, ns: string, name: string) {
    return this.hidden.has(`${kind}/${ns}/${name}`);
  }
  async readChild(kind: ChildKind, ns: string, name: string) {
    this.reads.push(kind);
    const key = `${kind}/${ns}/${name}`;
    return this.children.get(key) ?? this.hidden.get(key);
  }
  async apply(obj: KubernetesObject, call: ApplyCall) {
    const key = `${obj.kind}/${obj.metadata!.namespace}/${obj.metadata!.name}`;
    this.attempts.push(obj.kind!);
    const failure = this.failApply.get(obj.kind!);
    if (failure) throw failure;
    if (this.terminating) {
      throw new KubeApiError('PATCH', '/x', 403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', message: 'unable to create new content in namespace ml because it is being terminated', details: { causes: [{ type: 'NamespaceTerminating' }] } }, '');
    }
    if (this.invalidOnce.delete(obj.kind!)) throw apiError(422, 'Invalid', 'spec.ports[1].name: Duplicate value: "http"');
    this.writes.push({ verb: 'apply', kind: obj.kind!, name: obj.metadata!.name!, ...(call.fieldManager ? { manager: call.fieldManager } : {}), body: structuredClone(obj) });
    const old = this.children.get(key);
    if (call.fieldManager === HANDOVER_MANAGER) return old!;
    // Like the API server: keep the status, bump the generation when the spec changes.
    const stored = structuredClone(obj) as Obj;
    const specChanged = JSON.stringify(old?.spec) !== JSON.stringify(stored.spec);
    const generation = (old?.metadata?.generation ?? 0) + (specChanged ? 1 : 0);
    stored.metadata = { ...stored.metadata, uid: `uid-${obj.kind}`, resourceVersion: String(++this.gen), generation };
    if (old?.status) stored.status = old.status;
    if (obj.kind === 'Deployment' && stored.spec && stored.spec.replicas === undefined) stored.spec.replicas = (old?.spec?.replicas as number | undefined) ?? 1;
    this.children.set(key, stored);
    return structuredClone(stored);
  }
  async replaceSpec(obj: KubernetesObject) {
    this.writes.push({ verb: 'replaceSpec', kind: obj.kind!, name: obj.metadata!.name! });
    const key = `${obj.kind}/${obj.metadata!.namespace}/${obj.metadata!.name}`;
    const stored = { ...this.children.get(key)!, spec: structuredClone((obj as Obj).spec) } as Obj;
    this.children.set(key, stored);
    return stored;
  }
  async deleteChild(kind: ChildKind, ns: string, name: string) {
    this.writes.push({ verb: 'delete', kind, name });
    this.children.delete(`${kind}/${ns}/${name}`);
  }
  async patchStatus(md: ModelDeployment, status: ModelDeploymentStatus) {
    if (this.failStatus) throw this.failStatus;
    this.writes.push({ verb: 'status', kind: 'ModelDeployment', name: md.metadata.name! });
    const stored = this.mds.get(`${md.metadata.namespace}/${md.metadata.name}`)!;
    this.put({ ...stored, status });
  }
  event(_md: ModelDeployment, type: string, reason: string, message: string) {
    this.events.push({ type, reason, message });
  }
  deployment(): Obj {
    return this.children.get('Deployment/ml/demo')!;
  }
  /** The Deployment controller's part: it observes the latest generation and the rollout completes. */
  rollOut(): void {
    const d = this.deployment();
    const n = (d.spec?.replicas as number | undefined) ?? 1;
    d.status = {
      observedGeneration: d.metadata?.generation, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet has successfully progressed.' },
      ],
    };
  }
  /** The Deployment controller observed the latest generation and started a rollout it cannot finish. */
  observeStuck(extra: Record<string, unknown> = {}): void {
    const d = this.deployment();
    const n = (d.spec?.replicas as number | undefined) ?? 1;
    d.metadata = { ...d.metadata, annotations: { ...d.metadata?.annotations, 'deployment.kubernetes.io/revision': '2' } };
    d.status = { observedGeneration: d.metadata?.generation, replicas: n + 1, updatedReplicas: 1, readyReplicas: n, availableReplicas: n, conditions: [], ...extra };
  }
  clear(): void {
    this.attempts = [];
    this.writes = [];
    this.events = [];
    this.reads = [];
  }
  /** Bumps the generation with a new spec, as the API server does. */
  respec(spec: Partial<ModelDeploymentSpec>): void {
    const md = mdep(spec);
    md.metadata.generation = (this.md().metadata.generation ?? 1) + 1;
    md.status = this.md().status;
    this.put(md);
  }
}

const KEY = 'ml/demo';
const autoscaled: Partial<ModelDeploymentSpec> = {
  resources: { requests: { cpu: '500m', memory: '1Gi' } },
  autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
};

function condition(w: World, type: string) {
  return w.md().status?.conditions?.find((c) => c.type === type);
}

async function converged(spec: Partial<ModelDeploymentSpec>): Promise<World> {
  const w = new World();
  w.put(mdep(spec));
  await reconcile(w, KEY);
  // The HPA's part: it raises the Deployment to its minimum.
  if (spec.autoscaling) w.deployment().spec!.replicas = spec.autoscaling.minReplicas;
  w.rollOut();
  await reconcile(w, KEY);
  assert.equal(condition(w, 'Ready')?.status, 'True');
  w.clear();
  return w;
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
    const applied = w.writes.find((x) => x.kind === 'Deployment')!.body as Obj;
    assert.equal(applied.spec?.replicas, undefined, 'the HPA owns the size');
    assert.deepEqual(w.reads, [], 'no name was taken: nothing is read from the API server before the children are created');
    assert.deepEqual(w.events.map((e) => [e.type, e.reason, e.message]), [
      ['Normal', 'Created', 'Created Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget demo'],
    ], 'one event for the whole creation, not one per child');
    assert.equal(condition(w, 'Ready')?.status, 'False');
    assert.equal(w.md().status?.observedGeneration, 1);
  });

  it('turns Ready once the rollout completes, and reports the served model', async () => {
    const w = new World();
    w.put(mdep({ replicas: 2 }));
    await reconcile(w, KEY);
    w.rollOut();
    await reconcile(w, KEY);
    assert.equal(condition(w, 'Ready')?.status, 'True');
    assert.equal(w.md().status?.model?.uri, 's3://acme-models/iris/v1');
    assert.equal(w.md().status?.readyReplicas, 2);
    assert.ok(w.events.some((e) => e.reason === 'Ready'));
  });

  it('makes no write call and no live read in a steady state', async () => {
    const w = await converged(autoscaled);
    await reconcile(w, KEY);
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, []);
    assert.deepEqual(w.events, []);
    assert.deepEqual(w.reads, []);
  });

  it('validates a spec once: later passes over an equal spec reuse its frozen defaulted copy and revision', async () => {
    const w = await converged(autoscaled);
    const entry = w.validated.get('uid-demo');
    assert.ok(entry && 'valid' in entry.outcome, 'the converged spec is kept, by uid');
    const valid = entry.outcome.valid;
    assert.ok(Object.isFrozen(valid) && Object.isFrozen(valid.autoscaling), 'frozen: the passes share it');
    assert.equal(entry.revision, w.deployment().metadata?.annotations?.[REVISION_ANNOTATION]);
    // Each pass reads its own copy of the cached object (as after a status write): equal, not the same.
    await reconcile(w, KEY);
    assert.equal(w.validated.get('uid-demo'), entry);
    assert.equal(entry.outcome.valid, valid, 'not validated again');
    assert.deepEqual(w.writes, []);
  });

  it('hashes the pod template once a spec: a later pass takes the kept revision as it is', async () => {
    const w = await converged(autoscaled);
    const entry = w.validated.get('uid-demo');
    assert.ok(entry);
    // A revision no hash gives: the pass can only have it from the kept entry.
    entry.revision = 'kept';
    await reconcile(w, KEY);
    assert.equal(entry.revision, 'kept', 'not hashed again');
    assert.equal(w.deployment().metadata?.annotations?.[REVISION_ANNOTATION], 'kept', 'and the pass used it');
  });

  it('validates again a spec that changed without a new generation (a default a CRD upgrade added), and applies it', async () => {
    const w = await converged({ replicas: 2 });
    const before = w.validated.get('uid-demo');
    const md = w.md();
    w.put({ ...md, spec: { ...md.spec, replicas: 3 } });
    await reconcile(w, KEY);
    assert.notEqual(w.validated.get('uid-demo'), before);
    assert.equal(w.deployment().spec?.replicas, 3);
    assert.deepEqual(w.writes.map((x) => `${x.verb} ${x.kind}`).slice(0, 1), ['apply Deployment']);
  });

  it('keeps the verdict on an invalid spec until the spec changes', async () => {
    const w = new World();
    w.put(mdep({ autoscaling: { minReplicas: 5, maxReplicas: 2 } }));
    await reconcile(w, KEY);
    const verdict = w.validated.get('uid-demo');
    assert.ok(verdict && 'invalidSpec' in verdict.outcome);
    await reconcile(w, KEY);
    assert.equal(w.validated.get('uid-demo'), verdict);
    assert.equal(condition(w, 'Ready')?.reason, 'InvalidSpec');
    w.respec({ autoscaling: { minReplicas: 1, maxReplicas: 2 }, resources: { requests: { cpu: '1' } } });
    await reconcile(w, KEY);
    assert.ok('valid' in (w.validated.get('uid-demo')?.outcome ?? {}));
    assert.notEqual(condition(w, 'Ready')?.reason, 'InvalidSpec');
  });

  it('forgets a deleted ModelDeployment: its validation and its refusals, no other\'s', async () => {
    const w = await converged({ replicas: 1 });
    w.validated.set('uid-other', w.validated.get('uid-demo')!);
    w.refusals.set('ml/demo/Service/demo', { fingerprint: 'f', error: new Error('x') });
    w.refusals.set('ml/demo2/Service/demo2', { fingerprint: 'f', error: new Error('x') });
    forget(w, w.md());
    assert.deepEqual([...w.validated.keys()], ['uid-other']);
    assert.deepEqual([...w.refusals.keys()], ['ml/demo2/Service/demo2']);
  });

  it('never reports a pod template change as settled before the Deployment has observed it', async () => {
    const w = await converged({ replicas: 2 });
    w.respec({ replicas: 2, resources: { requests: { cpu: '2' } } });
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.map((x) => `${x.verb} ${x.kind}`), ['apply Deployment', 'status ModelDeployment']);
    assert.equal(w.md().status?.observedGeneration, 2);
    assert.equal(condition(w, 'Ready')?.status, 'False', 'the cache held a complete rollout of the old template');
    assert.equal(condition(w, 'Reconciling')?.status, 'True');
    assert.match(condition(w, 'Ready')?.message ?? '', /Waiting for the Deployment controller/);
  });

  it('does not report an older rollout\'s ProgressDeadlineExceeded as the new generation\'s failure', async () => {
    const w = await converged({ replicas: 2 });
    w.observeStuck({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "demo-1" has timed out progressing.' }] });
    await reconcile(w, KEY);
    assert.equal(condition(w, 'Stalled')?.status, 'True', 'the stuck rollout of this generation is Stalled');
    w.respec({ replicas: 2, model: { uri: 's3://acme-models/iris/v2', format: 'sklearn' } });
    await reconcile(w, KEY);
    assert.equal(condition(w, 'Stalled')?.status, 'False', 'the new generation has not failed (yet)');
    assert.equal(condition(w, 'Reconciling')?.status, 'True');
  });

  it('hands spec.replicas over before the HPA takes the size, so the Deployment keeps its size', async () => {
    const w = await converged({ replicas: 3 });
    w.respec({ resources: { requests: { cpu: '500m' } }, autoscaling: { minReplicas: 1, maxReplicas: 5 } });
    await reconcile(w, KEY);
    const deploymentWrites = w.writes.filter((x) => x.kind === 'Deployment');
    assert.deepEqual(deploymentWrites.map((x) => x.manager ?? 'modelship'), [HANDOVER_MANAGER, 'modelship'], 'the handover comes first');
    assert.deepEqual((deploymentWrites[0]!.body as Obj).spec, { replicas: 3 }, 'with the current size');
    assert.equal((deploymentWrites[1]!.body as Obj).spec?.replicas, undefined);
    w.clear();
    // Back to fixed replicas: set at once, with no handover.
    w.respec({ replicas: 2 });
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.filter((x) => x.kind === 'Deployment').map((x) => [x.manager ?? 'modelship', (x.body as Obj).spec?.replicas]), [['modelship', 2]]);
    assert.ok(w.writes.some((x) => x.verb === 'delete' && x.kind === 'HorizontalPodAutoscaler'));
  });

  it('restores a child edited by someone else, and only that child', async () => {
    const w = await converged({ replicas: 2 });
    w.children.get('Service/ml/demo')!.spec!.type = 'NodePort';
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.map((x) => `${x.verb} ${x.kind}`), ['apply Service']);
    assert.equal(w.events[0]?.reason, 'Updated');
    assert.match(w.events[0]?.message ?? '', /Updated Service demo \(Service spec\.type\)/);
  });

  it('replaces the spec when apply alone cannot undo an edit to a keyed list', async () => {
    const w = await converged({ replicas: 2 });
    const svc = w.children.get('Service/ml/demo') as Obj & { spec: { ports: { port: number }[] } };
    svc.spec.ports[0]!.port = 8999;
    w.invalidOnce.add('Service');
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.filter((x) => x.kind === 'Service').map((x) => x.verb), ['replaceSpec', 'apply']);
    assert.equal((w.getChild('Service', 'ml', 'demo') as typeof svc).spec.ports[0]?.port, 80);
    w.clear();
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, [], 'and the next pass makes no write');
  });

  it('stops quietly in a namespace that is being deleted', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.terminating = true;
    assert.deepEqual(await reconcile(w, KEY), { conflicts: [] });
    assert.deepEqual(w.events, [], 'no event and no retry');
    assert.deepEqual(w.writes, []);
  });

  it('recreates a deleted child', async () => {
    const w = await converged(autoscaled);
    w.children.delete('HorizontalPodAutoscaler/ml/demo');
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.filter((x) => x.verb === 'apply').map((x) => x.kind), ['HorizontalPodAutoscaler']);
  });

  it('deletes the HPA when autoscaling is removed', async () => {
    const w = await converged(autoscaled);
    w.respec({ replicas: 3 });
    await reconcile(w, KEY);
    assert.ok(w.writes.some((x) => x.verb === 'delete' && x.kind === 'HorizontalPodAutoscaler'));
    assert.equal(w.getChild('HorizontalPodAutoscaler', 'ml', 'demo'), undefined);
    assert.equal(w.deployment().spec?.replicas, 3);
  });

  it('reports an invalid spec as InvalidSpec and Stalled, once, and applies nothing', async () => {
    const w = new World();
    w.put(mdep({ autoscaling: { minReplicas: 5, maxReplicas: 2 } }));
    await reconcile(w, KEY);
    assert.deepEqual(w.writes.map((x) => x.verb), ['status']);
    assert.equal(condition(w, 'Ready')?.reason, 'InvalidSpec');
    assert.match(condition(w, 'Ready')?.message ?? '', /spec\.autoscaling/);
    assert.equal(condition(w, 'Stalled')?.status, 'True');
    assert.deepEqual(w.events.map((e) => [e.type, e.reason]), [['Warning', 'InvalidSpec']]);
    w.clear();
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, [], 'no write and no new event for the same invalid spec');
    assert.deepEqual(w.events, []);
  });

  it('leaves an unlabelled object of a child\'s name untouched: ChildConflict, Stalled, and converges once it is gone', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.hidden.set('Service/ml/demo', {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'demo', namespace: 'ml', managedFields: [{ manager: 'kubectl-create', operation: 'Update', time: '2026-11-27T11:00:00Z' }] },
    } as unknown as Obj);
    const result = await reconcile(w, KEY);
    assert.deepEqual(w.reads, ['Service'], 'the one taken name is read from the API server, to see who controls it');
    assert.deepEqual(w.writes.map((x) => `${x.verb} ${x.kind}`), ['status ModelDeployment'], 'no child is written while one is in conflict');
    assert.equal(condition(w, 'Ready')?.reason, 'ChildConflict');
    assert.equal(condition(w, 'Stalled')?.status, 'True');
    assert.match(condition(w, 'Stalled')?.message ?? '', /Service ml\/demo already exists and is made by kubectl-create/);
    assert.deepEqual(result.conflicts, [{ kind: 'Service', namespace: 'ml', name: 'demo' }], 'the controller is told what to watch');
    assert.deepEqual(w.events.map((e) => [e.type, e.reason]), [['Warning', 'ChildConflict']]);
    w.hidden.clear();
    w.clear();
    const after = await reconcile(w, KEY);
    assert.deepEqual(after.conflicts, []);
    assert.ok(w.writes.some((x) => x.verb === 'apply' && x.kind === 'Service'));
  });

  it('refuses to take over a child controlled by another owner, and never deletes one', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    const foreign = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'demo', namespace: 'ml', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'other', uid: 'someone-else', controller: true }] } } as Obj;
    w.children.set('Service/ml/demo', { ...foreign, apiVersion: 'v1', kind: 'Service' });
    // A PDB the spec does not want (one replica): not ours to delete either.
    w.children.set('PodDisruptionBudget/ml/demo', foreign);
    await reconcile(w, KEY);
    assert.ok(!w.writes.some((x) => x.kind === 'Service' || x.kind === 'PodDisruptionBudget'));
    assert.equal(condition(w, 'Ready')?.reason, 'ChildConflict');
    assert.match(condition(w, 'Ready')?.message ?? '', /controlled by Deployment other/);
  });

  it('retries a transient failure with backoff, Reconciling', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.failApply.set('Service', apiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'));
    await assert.rejects(reconcile(w, KEY), /Applying Service demo failed: the server is currently unable to handle the request/);
    assert.equal(condition(w, 'Ready')?.reason, 'ApplyFailed');
    assert.equal(condition(w, 'Reconciling')?.status, 'True');
    assert.equal(condition(w, 'Stalled')?.status, 'False');
  });

  it('waits out a 429 for its Retry-After', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.failApply.set('Deployment', apiError(429, 'TooManyRequests', 'too many requests', { retryAfterSeconds: 7 }));
    assert.deepEqual(await reconcile(w, KEY), { requeueAfterMs: 7000, conflicts: [] });
    assert.equal(condition(w, 'Reconciling')?.status, 'True');
  });

  it('reports an error that will not fix itself as ApplyRefused and Stalled, without retrying', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.failApply.set('Deployment', apiError(422, 'Invalid', 'Deployment.apps "demo" is invalid: spec.template.spec.affinity.nodeAffinity: Invalid value'));
    assert.deepEqual(await reconcile(w, KEY), { conflicts: [] }, 'no throw: no retry loop');
    assert.equal(condition(w, 'Ready')?.reason, 'ApplyRefused');
    assert.equal(condition(w, 'Stalled')?.status, 'True');
    assert.match(condition(w, 'Stalled')?.message ?? '', /Applying Deployment demo failed: Deployment.apps "demo" is invalid/);
    assert.ok(w.events.some((e) => e.type === 'Warning' && e.reason === 'ApplyRefused'));
    w.clear();
    await reconcile(w, KEY);
    await reconcile(w, KEY);
    assert.deepEqual(w.writes, [], 'the same refusal writes no status and no event again');
    assert.deepEqual(w.attempts, [], 'and is not sent again: child events cannot make a write loop');
    assert.deepEqual(w.events, []);
    // A changed spec tries again.
    w.failApply.delete('Deployment');
    w.respec({ replicas: 2 });
    await reconcile(w, KEY);
    assert.deepEqual(w.attempts.filter((k) => k === 'Deployment'), ['Deployment']);
  });

  it('tries a forbidden write again slowly, Stalled meanwhile', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.failApply.set('Service', apiError(403, 'Forbidden', 'services is forbidden: User "op" cannot patch resource "services"'));
    assert.deepEqual(await reconcile(w, KEY), { requeueAfterMs: 30_000, conflicts: [] });
    assert.equal(condition(w, 'Stalled')?.status, 'True');
    assert.match(condition(w, 'Ready')?.message ?? '', /Grant the operator this permission/);
  });

  it('writes nothing more once the lease is lost', async () => {
    const w = new World();
    w.put(mdep({ replicas: 1 }));
    w.failApply.set('Service', new NotLeaderError());
    assert.deepEqual(await reconcile(w, KEY), { conflicts: [] });
    assert.equal(w.md().status, undefined, 'no status write');
    assert.deepEqual(w.events, []);
  });

  it('names why pods do not serve: the scheduler\'s words on the status', async () => {
    const w = await converged({ replicas: 2 });
    w.respec({ replicas: 2, resources: { limits: { 'nvidia.com/gpu': 16 } } });
    await reconcile(w, KEY);
    w.observeStuck();
    const dep = w.deployment();
    w.replicaSets = [{ metadata: { name: 'demo-new', uid: 'rs-new', annotations: { 'deployment.kubernetes.io/revision': '2' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo', uid: dep.metadata!.uid!, controller: true }] } }];
    w.pods = [{
      metadata: { name: 'demo-new-abcde', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'demo-new', uid: 'rs-new', controller: true }] },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' }] },
    }];
    await reconcile(w, KEY);
    assert.equal(condition(w, 'Ready')?.reason, 'Unschedulable');
    assert.match(condition(w, 'Ready')?.message ?? '', /Pod demo-new-abcde cannot be scheduled: 0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu\./);
    assert.equal(condition(w, 'Reconciling')?.status, 'True', 'a node may come: not Stalled');
    assert.ok(w.events.some((e) => e.type === 'Warning' && e.reason === 'Unschedulable'));
  });

  it('starts a canary in a Deployment of its own and keeps the stable one, also when an HPA owns its size', async () => {
    for (const spec of [{ replicas: 4 }, { ...autoscaled, autoscaling: { minReplicas: 4, maxReplicas: 8 } }] as Partial<ModelDeploymentSpec>[]) {
      const canary = { strategy: 'Canary' as const, canary: { steps: [{ weight: 25, pause: '1m' }] } };
      const w = await converged({ ...spec, rollout: canary });
      w.respec({ ...spec, rollout: canary, model: { uri: 's3://acme-models/iris/v2', format: 'sklearn' } });
      await reconcile(w, KEY);
      assert.ok(!w.writes.some((x) => x.verb === 'delete'), `nothing deleted: ${JSON.stringify(w.writes.map((x) => `${x.verb} ${x.kind} ${x.name}`))}`);
      const created = w.writes.find((x) => x.verb === 'apply' && x.kind === 'Deployment' && x.name !== 'demo');
      assert.match(created?.name ?? '', /^demo-[0-9a-f]{10}$/);
      assert.equal((created?.body as Obj).metadata?.labels?.['serving.modelship.dev/role'], 'canary');
      assert.equal((created?.body as Obj).spec?.replicas, 1, 'one canary pod: 25 % of 4 (or beside 4 under the HPA: 1 of 5)');
      assert.ok(w.getChild('Deployment', 'ml', 'demo'), 'the stable Deployment stays');
      assert.equal(w.md().status?.rollout?.phase, 'Progressing');
      assert.equal(condition(w, 'Ready')?.reason, 'CanaryProgressing');
      assert.ok(w.events.some((e) => e.reason === 'CanaryStarted'));
    }
  });

  it('with an HTTPRoute, gives each slot a Service and writes the weights of the route\'s first rule, and only when they change', async () => {
    const canary = { strategy: 'Canary' as const, canary: { steps: [{ weight: 25, pause: '1m' }], trafficRouting: { httpRouteRef: { name: 'iris-route' } } } };
    const w = new World();
    w.routes.set('iris-route', { metadata: { name: 'iris-route', resourceVersion: '1' }, spec: { rules: [{ backendRefs: [{ name: 'placeholder', port: 80 }] }] } });
    w.put(mdep({ replicas: 4, rollout: canary }));
    await reconcile(w, KEY);
    const first = w.writes.find((x) => x.kind === 'Deployment')!.name;
    assert.match(first, /^demo-[0-9a-f]{10}$/, 'a routed model starts in a slot of its own');
    assert.ok(w.writes.some((x) => x.kind === 'Service' && x.name === first), 'with a Service of its own');
    w.rollOut = w.rollOut.bind(w);
    const d = w.children.get(`Deployment/ml/${first}`)!;
    d.status = { observedGeneration: 1, replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4 };
    w.clear();
    await reconcile(w, KEY);
    assert.deepEqual(w.routes.get('iris-route')?.spec?.rules?.[0]?.backendRefs?.map((b) => [b.name, b.weight]), [[first, 100]]);
    w.clear();
    await reconcile(w, KEY);
    assert.ok(!w.writes.some((x) => x.kind === 'HTTPRoute'), 'unchanged weights are not written again');
    w.respec({ replicas: 4, rollout: canary, model: { uri: 's3://acme-models/iris/v2', format: 'sklearn' } });
    await reconcile(w, KEY);
    const canaryName = w.writes.find((x) => x.kind === 'Deployment' && x.name !== first)!.name;
    const c = w.children.get(`Deployment/ml/${canaryName}`)!;
    c.status = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 };
    await reconcile(w, KEY);
    assert.deepEqual(w.routes.get('iris-route')?.spec?.rules?.[0]?.backendRefs?.map((b) => [b.name, b.weight]), [[first, 75], [canaryName, 25]]);
    assert.deepEqual(w.md().status?.revisions?.map((r) => [r.role, r.trafficPercent]), [['stable', 75], ['canary', 25]]);
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
