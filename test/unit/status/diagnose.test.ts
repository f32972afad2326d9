// The diagnosis: which words reach the status for each way pods fail, and what the caches keep.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ContainerStatus, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { currentReplicaSet, diagnose, podForCache, podProblem, replicaSetForCache } from '../../../operator/src/status/diagnose.ts';

const owner = (uid: string, kind = 'ReplicaSet') => [{ apiVersion: 'apps/v1', kind, name: uid, uid, controller: true }];

function container(name: string, c: Partial<V1ContainerStatus>): V1ContainerStatus {
  return { name, image: `${name}:1`, imageID: '', ready: false, restartCount: 0, ...c };
}

function pod(name: string, status: V1Pod['status'], rs = 'rs-2'): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ml', ownerReferences: owner(rs), labels: { 'app.kubernetes.io/instance': 'm' } }, spec: { containers: [{ name: 'server', image: 'big' }] }, status };
}

const unschedulable = pod('p-unsched', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.' }] });
const imagePull = pod('p-pull', { phase: 'Pending', containerStatuses: [container('server', { state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example.com/triton:nope"' } } })] });
const invalidImage = pod('p-bad-image', { phase: 'Pending', containerStatuses: [container('server', { state: { waiting: { reason: 'InvalidImageName', message: 'Failed to apply default image tag "UPPER:case"' } } })] });
const oom = (restarts: number) => pod('p-oom', { phase: 'Running', containerStatuses: [container('server', { restartCount: restarts, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=server' } }, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } })] });
const fetcher = (restarts: number) => pod('p-fetch', { phase: 'Pending', initContainerStatuses: [container('model-fetcher', { restartCount: restarts, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'Error', exitCode: 1, message: 'NoSuchKey: s3://models/iris/v9 does not exist' } } })], containerStatuses: [container('server', { state: { waiting: { reason: 'PodInitializing' } } })] });
const configError = pod('p-config', { phase: 'Pending', containerStatuses: [container('server', { state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "s3-creds" not found' } } })] });
const notReady = pod('p-notready', { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [container('server', { state: { running: {} } })] });
const starting = pod('p-starting', { phase: 'Pending', containerStatuses: [container('server', { state: { waiting: { reason: 'ContainerCreating' } } })] });
const ready = pod('p-ready', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [container('server', { ready: true, state: { running: {} } })] });
const deleting = { ...oom(9), metadata: { ...oom(9).metadata, deletionTimestamp: new Date() } } as V1Pod;

describe('podProblem', () => {
  const cases: Array<[string, V1Pod, string | undefined, boolean?, RegExp?]> = [
    ['unschedulable: the scheduler\'s words', unschedulable, 'Unschedulable', false, /cannot be scheduled: 0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu/],
    ['an image that cannot be pulled (yet)', imagePull, 'ImagePullFailed', false, /cannot pull its image server:1 \(ImagePullBackOff\): Back-off pulling image/],
    ['an image name that can never be pulled', invalidImage, 'ImagePullFailed', true],
    ['OOMKilled, just begun', oom(1), 'CrashLoop', false, /keeps crashing \(last exit: OOMKilled, exit code 137\).*raise resources\.limits\.memory/],
    ['OOMKilled past the restart limit', oom(3), 'CrashLoop', true],
    ['the model fetcher fails: its termination message', fetcher(4), 'ModelFetchFailed', true, /the model fetcher failed \(Error, exit code 1\): NoSuchKey: s3:\/\/models\/iris\/v9 does not exist/],
    ['the model fetcher failed once', fetcher(0), 'ModelFetchFailed', false],
    ['a missing Secret', configError, 'ContainerConfigError', true, /secret "s3-creds" not found/],
    ['running but never ready', notReady, 'NotReady', false, /readiness probe of server has not passed/],
    ['still starting: no problem', starting, undefined],
    ['ready: no problem', ready, undefined],
    ['being deleted: not counted', deleting, undefined],
  ];
  for (const [name, p, reason, stalled, message] of cases) {
    it(name, () => {
      const got = podProblem(p);
      assert.equal(got?.reason, reason);
      if (stalled !== undefined) assert.equal(got?.stalled, stalled);
      if (message) assert.match(got?.message ?? '', message);
      // The cache keeps everything the diagnosis reads.
      assert.deepEqual(podProblem(podForCache(p)), got);
    });
  }
});

describe('diagnose', () => {
  const dep: V1Deployment = { metadata: { name: 'm', uid: 'dep', generation: 2, annotations: { 'deployment.kubernetes.io/revision': '2' } }, status: { observedGeneration: 2 } };
  const rs = (uid: string, revision: string): V1ReplicaSet => ({ metadata: { name: `m-${uid}`, uid, annotations: { 'deployment.kubernetes.io/revision': revision }, ownerReferences: owner('dep', 'Deployment') } });
  const replicaSets = [rs('rs-1', '1'), rs('rs-2', '2')];

  it('finds the ReplicaSet of the current revision', () => {
    assert.equal(currentReplicaSet(dep, replicaSets)?.metadata?.uid, 'rs-2');
    assert.equal(currentReplicaSet({ ...dep, metadata: { ...dep.metadata, annotations: {} } }, replicaSets), undefined);
  });

  it('looks at the current revision\'s pods only: an old pod\'s crash is not the new rollout\'s', () => {
    const oldCrash = pod('old', oom(9).status, 'rs-1');
    assert.equal(diagnose({ deployment: dep, replicaSets, pods: [oldCrash, starting] }), undefined);
  });

  it('names the most telling cause first, and counts the pods that share it', () => {
    const d = diagnose({ deployment: dep, replicaSets, pods: [unschedulable, fetcher(5), { ...fetcher(1), metadata: { ...fetcher(1).metadata, name: 'p-fetch-2' } }] });
    assert.equal(d?.reason, 'ModelFetchFailed');
    assert.equal(d?.stalled, true);
    assert.match(d?.message ?? '', /^Pod p-fetch \(and 1 more pod\) the model fetcher failed/);
  });

  it('reports pods refused at creation with the API server\'s words, Stalled', () => {
    const refused = { ...dep, status: { ...dep.status, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "m-2-x" is forbidden: exceeded quota: models, requested: pods=1, used: pods=1, limited: pods=1' }] } };
    const failingRs = { ...rs('rs-2', '2'), status: { replicas: 0, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'x' }] } };
    const d = diagnose({ deployment: refused, replicaSets: [rs('rs-1', '1'), failingRs], pods: [] });
    assert.equal(d?.reason, 'PodsRefused');
    assert.equal(d?.stalled, true);
    assert.equal(d?.message, 'The API server refuses to create pods for ReplicaSet m-rs-2 (FailedCreate): pods "m-2-x" is forbidden: exceeded quota: models, requested: pods=1, used: pods=1, limited: pods=1');
  });

  it('keeps a long message to 1000 characters', () => {
    const long = pod('p', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'x'.repeat(5000) }] });
    assert.equal(diagnose({ deployment: dep, replicaSets, pods: [long] })?.message.length, 1000);
  });
});

describe('what the caches keep', () => {
  it('drops the pod spec and all but the fields the diagnosis reads', () => {
    const cached = podForCache({ ...oom(5), metadata: { ...oom(5).metadata, annotations: { big: 'x'.repeat(1000) }, managedFields: [{}] } });
    assert.equal(cached.spec, undefined);
    assert.equal(cached.metadata?.annotations, undefined);
    assert.equal(cached.metadata?.managedFields, undefined);
    assert.deepEqual(cached.metadata?.labels, { 'app.kubernetes.io/instance': 'm' });
    assert.ok(JSON.stringify(cached).length < 600, `${JSON.stringify(cached).length} bytes`);
  });

  it('keeps a ReplicaSet\'s revision, owner, size and conditions', () => {
    const full: V1ReplicaSet = {
      metadata: { name: 'm-1', uid: 'u', labels: { 'app.kubernetes.io/instance': 'm' }, annotations: { 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/desired-replicas': '2' }, ownerReferences: owner('dep', 'Deployment') },
      spec: { replicas: 2, selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'server', image: 'x' }] } } },
      status: { replicas: 1, readyReplicas: 1, conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'm', lastTransitionTime: new Date() }] },
    };
    const cached = replicaSetForCache(full);
    assert.deepEqual(cached.metadata?.annotations, { 'deployment.kubernetes.io/revision': '3' });
    assert.equal(cached.spec?.replicas, 2);
    assert.equal(cached.spec?.template, undefined);
    assert.deepEqual(cached.status?.conditions, [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'm' }]);
  });

  it("reads nothing of a spec but a ReplicaSet's replicas, which is all the informers decode of it (withoutSpec)", () => {
    const full = { ...oom(5), spec: { nodeName: 'n1', containers: [{ name: 'server', image: 'x' }] } };
    assert.deepEqual(podForCache({ ...full, spec: {} } as typeof full), podForCache(full));
    const rs: V1ReplicaSet = {
      metadata: { name: 'm-1', uid: 'u', labels: { 'app.kubernetes.io/instance': 'm' }, ownerReferences: owner('dep', 'Deployment') },
      spec: { replicas: 2, minReadySeconds: 5, selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'server', image: 'x' }] } } },
      status: { replicas: 1, readyReplicas: 1 },
    };
    assert.deepEqual(replicaSetForCache({ ...rs, spec: { replicas: 2 } as V1ReplicaSet['spec'] }), replicaSetForCache(rs));
  });
});
