import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ServedModel } from '../../../operator/src/api/types.ts';
import { MODEL_FORMAT_ANNOTATION, MODEL_URI_ANNOTATION, RUNTIME_ANNOTATION, SERVER_CONTAINER } from '../../../operator/src/render/labels.ts';
import { computeStatus, type StatusInput } from '../../../operator/src/status/compute.ts';

const v1: ServedModel = { uri: 's3://m/v1', format: 'sklearn', runtime: 'mlserver', image: 'mlserver:1' };
const v2: ServedModel = { uri: 's3://m/v2', format: 'sklearn', runtime: 'mlserver', image: 'mlserver:1' };
const now = new Date('2026-11-27T12:00:00.500Z');

function pod(name: string, p: { crash?: number; unschedulable?: boolean }): V1Pod {
  const status: V1Pod['status'] = { phase: 'Pending' };
  if (p.crash !== undefined) {
    status.phase = 'Running';
    status.containerStatuses = [{
      name: SERVER_CONTAINER, image: 'i', imageID: '', ready: false, restartCount: p.crash,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
      lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } },
    }];
  }
  if (p.unschedulable) status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 node(s) were unschedulable.' }];
  return { metadata: { name }, status };
}

function dep(model: ServedModel, s: { replicas?: number; updated?: number; available?: number; ready?: number; total?: number; generation?: number; observed?: number; deadline?: boolean; replicaFailure?: string } = {}): V1Deployment {
  const want = s.replicas ?? 2;
  return {
    metadata: { name: 'm', generation: s.generation ?? 1 },
    spec: { replicas: want, selector: {}, template: {
      metadata: { annotations: { [MODEL_URI_ANNOTATION]: model.uri!, [MODEL_FORMAT_ANNOTATION]: model.format!, [RUNTIME_ANNOTATION]: model.runtime! } },
      spec: { containers: [{ name: SERVER_CONTAINER, image: model.image! }] },
    } },
    status: {
      observedGeneration: s.observed ?? s.generation ?? 1,
      replicas: s.total ?? s.updated ?? want,
      updatedReplicas: s.updated ?? want,
      availableReplicas: s.available ?? want,
      readyReplicas: s.ready ?? s.available ?? want,
      conditions: [
        ...(s.replicaFailure ? [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: s.replicaFailure }] : []),
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
        s.deadline
          ? { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "m-1" has timed out progressing.' }
          : { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "m-1" has successfully progressed.' },
      ],
    },
  } as V1Deployment;
}

function input(over: Partial<StatusInput>): StatusInput {
  return {
    generation: 3,
    previous: undefined,
    now,
    desired: { model: v1, selector: 'app.kubernetes.io/instance=m', url: 'http://m.ns.svc.cluster.local'},
    ...over,
  };
}

const get = (s: ReturnType<typeof computeStatus>, t: string) => s.conditions?.find((c) => c.type === t);

describe('computeStatus', () => {
  const table: { name: string; in: Partial<StatusInput>; ready: string; reason: string; reconciling: string; stalled: string }[] = [
    { name: 'a complete rollout is Ready', in: { deployment: dep(v1) }, ready: 'True', reason: 'Ready', reconciling: 'False', stalled: 'False' },
    { name: 'no Deployment yet is Creating', in: {}, ready: 'False', reason: 'Creating', reconciling: 'True', stalled: 'False' },
    { name: 'an invalid spec is Stalled', in: { invalidSpec: 'spec.autoscaling.minReplicas must be at most maxReplicas', desired: undefined }, ready: 'False', reason: 'InvalidSpec', reconciling: 'False', stalled: 'True' },
    { name: 'a child owned by another is Stalled', in: { failure: { reason: 'ChildConflict', message: 'Service m exists and is not controlled by this ModelDeployment' }, deployment: dep(v1) }, ready: 'False', reason: 'ChildConflict', reconciling: 'False', stalled: 'True' },
    { name: 'a failed apply is retried', in: { failure: { reason: 'ApplyFailed', message: 'Applying Deployment m failed: 500' }, deployment: dep(v1) }, ready: 'False', reason: 'ApplyFailed', reconciling: 'True', stalled: 'False' },
    { name: 'an apply the API server refuses for good is Stalled', in: { failure: { reason: 'ApplyRefused', message: 'Applying Deployment m failed: 422' }, deployment: dep(v1) }, ready: 'False', reason: 'ApplyRefused', reconciling: 'False', stalled: 'True' },
    { name: 'updated replicas not yet available', in: { deployment: dep(v1, { available: 1 }) }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
    { name: 'old replicas still terminating', in: { deployment: dep(v1, { updated: 2, total: 3 }) }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
    { name: 'the Deployment has not observed its generation', in: { deployment: dep(v1, { generation: 2, observed: 1 }) }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
    { name: 'the cache still holds the old template', in: { deployment: dep(v2) }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
    { name: 'a rollout past its deadline is Stalled', in: { deployment: dep(v1, { available: 1, deadline: true }) }, ready: 'False', reason: 'ProgressDeadlineExceeded', reconciling: 'False', stalled: 'True' },
    { name: 'an older generation\'s deadline is not the new one\'s failure', in: { deployment: dep(v1, { generation: 2, observed: 1, available: 1, deadline: true }) }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
    { name: 'ready but not yet available is not Ready', in: { deployment: dep(v1, { ready: 2, available: 1 }) }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
    { name: 'a crash-looping pod of the rollout is named, Stalled past the restart limit', in: { deployment: dep(v1, { available: 1 }), pods: [pod('m-1-a', { crash: 4 })] }, ready: 'False', reason: 'CrashLoop', reconciling: 'False', stalled: 'True' },
    { name: 'a crash loop that just began is still Reconciling', in: { deployment: dep(v1, { available: 1 }), pods: [pod('m-1-a', { crash: 1 })] }, ready: 'False', reason: 'CrashLoop', reconciling: 'True', stalled: 'False' },
    { name: 'pods refused at creation are Stalled', in: { deployment: dep(v1, { available: 0, replicaFailure: 'pods "m-1-x" is forbidden: exceeded quota: q' }) }, ready: 'False', reason: 'PodsRefused', reconciling: 'False', stalled: 'True' },
    { name: 'a deadline keeps its reason and says what is wrong', in: { deployment: dep(v1, { available: 1, deadline: true }), pods: [pod('m-1-a', { unschedulable: true })] }, ready: 'False', reason: 'ProgressDeadlineExceeded', reconciling: 'False', stalled: 'True' },
    { name: 'pods of the old template are not diagnosed for a generation the Deployment has not observed', in: { deployment: dep(v1, { generation: 2, observed: 1, available: 1 }), pods: [pod('m-1-a', { crash: 9 })] }, ready: 'False', reason: 'RollingOut', reconciling: 'True', stalled: 'False' },
  ];
  for (const c of table) {
    it(c.name, () => {
      const s = computeStatus(input(c.in));
      assert.equal(s.observedGeneration, 3);
      assert.equal(get(s, 'Ready')?.status, c.ready);
      assert.equal(get(s, 'Ready')?.reason, c.reason);
      assert.equal(get(s, 'Reconciling')?.status, c.reconciling);
      assert.equal(get(s, 'Stalled')?.status, c.stalled);
      for (const cnd of s.conditions ?? []) {
        assert.equal(cnd.observedGeneration, 3);
        assert.match(cnd.reason, /^[A-Z][A-Za-z]*$/, 'reasons are CamelCase');
        assert.ok(cnd.message.length > 0, `${cnd.type} has a message`);
      }
    });
  }

  it('is not Ready under an HPA until the Deployment reaches minReplicas', () => {
    const desired = { ...input({}).desired!, minReplicas: 3 };
    const low = computeStatus(input({ desired, deployment: dep(v1, { replicas: 1 }) }));
    assert.equal(get(low, 'Ready')?.status, 'False');
    assert.match(get(low, 'Ready')?.message ?? '', /minimum of 3 replicas \(now 1\)/);
    assert.equal(low.model, undefined, 'nothing counts as served yet');
    const there = computeStatus(input({ desired, deployment: dep(v1, { replicas: 3 }) }));
    assert.equal(get(there, 'Ready')?.status, 'True');
  });

  it('names the pod and the scheduler\'s words, and keeps a deadline\'s reason', () => {
    const s = computeStatus(input({ deployment: dep(v1, { available: 1, deadline: true }), pods: [pod('m-1-b', { unschedulable: true }), pod('m-1-a', { unschedulable: true })] }));
    assert.equal(get(s, 'Ready')?.message, 'The rollout of s3://m/v1 made no progress before its deadline. Pod m-1-a (and 1 more pod) cannot be scheduled: 0/3 nodes are available: 3 node(s) were unschedulable.');
    const oom = computeStatus(input({ deployment: dep(v1, { available: 1 }), pods: [pod('m-1-a', { crash: 5 })] }));
    assert.match(get(oom, 'Stalled')?.message ?? '', /Pod m-1-a container server keeps crashing \(last exit: OOMKilled, exit code 137\); it ran out of memory: raise resources\.limits\.memory/);
  });

  it('names the fields of an invalid spec in the Ready message', () => {
    const s = computeStatus(input({ invalidSpec: 'spec.model.uri: must start with s3://', desired: undefined }));
    assert.match(get(s, 'Ready')?.message ?? '', /spec\.model\.uri/);
  });

  it('reports replicas, selector, url and the HPA sizes', () => {
    const s = computeStatus(input({
      deployment: dep(v1, { replicas: 3 }),
      hpa: { spec: { maxReplicas: 5, scaleTargetRef: { kind: 'Deployment', name: 'm' } }, status: { currentReplicas: 3, desiredReplicas: 4 } },
    }));
    assert.equal(s.replicas, 3);
    assert.equal(s.readyReplicas, 3);
    assert.equal(s.updatedReplicas, 3);
    assert.equal(s.selector, 'app.kubernetes.io/instance=m');
    assert.equal(s.url, 'http://m.ns.svc.cluster.local');
    assert.deepEqual(s.autoscaling, { currentReplicas: 3, desiredReplicas: 4 });
  });

  it('shows the new model only once it is rolled out', () => {
    const served = computeStatus(input({ deployment: dep(v1) }));
    assert.deepEqual(served.model, v1);
    const rolling = computeStatus(input({ previous: served, desired: { ...input({}).desired!, model: v2 }, deployment: dep(v2, { available: 1 }) }));
    assert.deepEqual(rolling.model, v1, 'still the old model while the new one rolls out');
    const done = computeStatus(input({ previous: rolling, desired: { ...input({}).desired!, model: v2 }, deployment: dep(v2) }));
    assert.deepEqual(done.model, v2);
  });

  it('has no model before the first rollout completes', () => {
    assert.equal(computeStatus(input({ deployment: dep(v1, { available: 0 }) })).model, undefined);
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = computeStatus(input({ deployment: dep(v1) }));
    assert.equal(get(first, 'Ready')?.lastTransitionTime, '2026-11-27T12:00:00Z');
    const later = computeStatus(input({ deployment: dep(v1), previous: first, now: new Date('2026-11-27T13:00:00Z') }));
    assert.equal(get(later, 'Ready')?.lastTransitionTime, '2026-11-27T12:00:00Z');
    assert.deepEqual(later, first, 'an unchanged world gives an identical status, so no write');
    const broken = computeStatus(input({ deployment: dep(v1, { available: 1 }), previous: first, now: new Date('2026-11-27T13:00:00Z') }));
    assert.equal(get(broken, 'Ready')?.lastTransitionTime, '2026-11-27T13:00:00Z');
  });
});
