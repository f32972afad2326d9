// Safe model updates on the real control plane: a canary without a mesh (two Deployments behind
// one Service), promotion, abort, and automatic rollback for each way a new model fails (made with
// kwok stages that mark the bad revision's pods). Through all of them the Service's ready endpoints
// are watched version by version and must never reach zero.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyMd, cond, getMd, md, operatorWrites, waitReady, type MdObj } from './controller-suite.ts';
import { watchReadyEndpoints, type EndpointWatch } from './endpoints.ts';
import { auditEvents, auditOffset, eventually, getJson, installCrd, kubectl, useNamespace } from './harness.ts';
import { kstatusNow } from './kstatus.ts';
import { OPERATOR_USER, startOperator, type OperatorProcess } from './operator.ts';

const FAULT = 'faults.test.modelship.dev';

interface Rollout {
  phase?: string;
  revision?: string;
  stableRevision?: string;
  step?: number;
  weight?: number;
  reason?: string;
  message?: string;
  stepStartedAt?: string;
}
type CanaryMd = MdObj & { status?: MdObj['status'] & { rollout?: Rollout; revisions?: { revision: string; role: string; deployment: string; readyReplicas: number; trafficPercent: number }[]; history?: { revision: string; replicaSet?: string }[] } };

function getCanary(ns: string, name: string): CanaryMd {
  return getMd(ns, name) as CanaryMd;
}

function spec(version: string, extra: Record<string, unknown> = {}, rollout: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    replicas: 4,
    model: { uri: `s3://models/iris/${version}`, format: 'sklearn', version },
    rollout: { strategy: 'Canary', canary: { steps: [{ weight: 25, pause: '3s' }, { weight: 50, pause: '3s' }], readyTimeout: '60s' }, ...rollout },
    ...extra,
  };
}

async function phase(ns: string, name: string, want: string, timeoutMs = 90_000, pred: (m: CanaryMd) => boolean = () => true): Promise<CanaryMd> {
  let last: CanaryMd | undefined;
  return eventually(`${name}: rollout phase ${want}`, () => {
    last = getCanary(ns, name);
    return last.status?.rollout?.phase === want && last.status.observedGeneration === last.metadata.generation && pred(last) ? last : undefined;
  }, timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message}; last rollout: ${JSON.stringify(last?.status?.rollout)}; Ready: ${JSON.stringify(cond(last as MdObj, 'Ready'))}`);
  });
}

interface TimedEvent {
  reason: string;
  message: string;
  at: number;
}

function events(ns: string, name: string): TimedEvent[] {
  const list = getJson<{ items: { reason: string; message: string; firstTimestamp?: string; lastTimestamp?: string; involvedObject: { name: string; kind: string } }[] }>(['get', 'events', '-n', ns]).items;
  return list
    .filter((e) => e.involvedObject.kind === 'ModelDeployment' && e.involvedObject.name === name)
    .map((e) => ({ reason: e.reason, message: e.message, at: Date.parse(e.firstTimestamp ?? e.lastTimestamp ?? '') }))
    .sort((a, b) => a.at - b.at);
}

function timeline(list: TimedEvent[], from: number): string {
  return list.filter((e) => e.at >= from - 1000).map((e) => `+${Math.max(0, (e.at - from) / 1000).toFixed(0)}s ${e.reason}`).join(', ');
}

function deployments(ns: string): { name: string; role?: string; replicas: number; ready: number }[] {
  const list = getJson<{ items: { metadata: { name: string; labels?: Record<string, string> }; spec: { replicas: number }; status?: { readyReplicas?: number } }[] }>(['get', 'deployments', '-n', ns]).items;
  return list.map((d) => ({ name: d.metadata.name, role: d.metadata.labels?.['serving.modelship.dev/role'], replicas: d.spec.replicas, ready: d.status?.readyReplicas ?? 0 })).sort((a, b) => a.name.localeCompare(b.name));
}

describe('canary and automatic rollback', () => {
  let op: OperatorProcess;
  const watches: EndpointWatch[] = [];
  before(async () => {
    installCrd();
    op = await startOperator({ name: 'canary', args: ['--leader-elect=false'] });
  });
  after(async () => {
    for (const w of watches) w.stop();
    assert.equal(await op.stop('SIGTERM'), 0);
  });

  async function serving(ns: string, name: string, version: string, extra: Record<string, unknown> = {}, rollout: Record<string, unknown> = {}): Promise<EndpointWatch> {
    applyMd(ns, md(name, spec(version, extra, rollout)));
    await waitReady(ns, name);
    const w = watchReadyEndpoints(ns, name);
    watches.push(w);
    await eventually('the endpoint watch to see the ready pods', () => w.readyCounts.length > 0 && w.min() > 0);
    return w;
  }

  it('goes 25% → 50% → 100% with its pauses, promotes without restarting the canary pods, and never leaves the Service without ready pods', async (t) => {
    const ns = useNamespace(t, 'can');
    const ep = await serving(ns, 'iris', 'v1');
    const start = Date.now();
    applyMd(ns, md('iris', spec('v2')));
    const at50 = await phase(ns, 'iris', 'Paused', 90_000, (m) => m.status?.rollout?.weight === 50);
    const revision = at50.status?.rollout?.revision as string;
    assert.equal(cond(at50, 'Ready')?.status, 'False', 'not Ready while the canary runs');
    assert.equal(kstatusNow(ns, 'iris').status, 'InProgress');
    const canaryName = `iris-${revision}`;
    const shares = at50.status?.revisions?.map((r) => `${r.role}:${r.readyReplicas}:${r.trafficPercent}%`).sort();
    assert.deepEqual(shares, ['canary:2:50%', 'stable:2:50%'], 'half the ready pods, half the traffic');
    const podsAt50 = kubectl(['get', 'pods', '-n', ns, '-l', `serving.modelship.dev/slot=${revision}`, '-o', 'jsonpath={.items[*].metadata.uid}']).trim().split(' ').sort();
    const done = await phase(ns, 'iris', 'Completed');
    await waitReady(ns, 'iris');
    assert.equal(getCanary(ns, 'iris').status?.model?.uri, 's3://models/iris/v2');
    assert.deepEqual(deployments(ns).map((d) => [d.name, d.role, d.replicas]), [[canaryName, 'stable', 4]], 'the canary Deployment is the stable one now; the old one is gone');
    const podsAfter = kubectl(['get', 'pods', '-n', ns, '-l', `serving.modelship.dev/slot=${revision}`, '-o', 'jsonpath={.items[*].metadata.uid}']).trim().split(' ');
    for (const uid of podsAt50) assert.ok(podsAfter.includes(uid), 'the canary pods of step 50% still run: promotion restarted nothing');
    const history = await eventually('the history to name the new revision', () => {
      const h = getCanary(ns, 'iris').status?.history;
      return h?.[0]?.revision === revision ? h : undefined;
    });
    assert.equal(history.length, 2, 'the old revision is still in the history');
    void done;
    await sleep(1000);
    assert.ok(ep.min() >= 1, `ready endpoints never reached zero (min ${ep.min()}, over ${ep.readyCounts.length} versions)`);
    const reasons = events(ns, 'iris').map((e) => e.reason);
    for (const r of ['CanaryStarted', 'CanaryStep', 'Promoting', 'Promoted']) assert.ok(reasons.includes(r), `event ${r}: ${reasons.join(', ')}`);
    t.diagnostic(`timeline: ${timeline(events(ns, 'iris'), start)}; ready endpoints min ${ep.min()} over ${ep.readyCounts.length} EndpointSlice versions`);
  });

  it('waits for a person at a step without a pause; an abort rolls back; a promotion completes', async (t) => {
    const ns = useNamespace(t, 'can');
    const ep = await serving(ns, 'manual', 'v1', {}, { canary: { steps: [{ weight: 25 }], readyTimeout: '60s' } });
    applyMd(ns, md('manual', spec('v2', {}, { canary: { steps: [{ weight: 25 }], readyTimeout: '60s' } })));
    const paused = await phase(ns, 'manual', 'Paused');
    assert.equal(paused.status?.rollout?.reason, 'WaitingForPromotion');
    const rev = paused.status?.rollout?.revision as string;
    await sleep(4000);
    assert.equal(getCanary(ns, 'manual').status?.rollout?.phase, 'Paused', 'it waits as long as it takes');
    kubectl(['annotate', 'mdep', 'manual', '-n', ns, `serving.modelship.dev/abort=${rev}`, '--overwrite']);
    const aborted = await phase(ns, 'manual', 'RolledBack', 60_000, () => deployments(ns).length === 1);
    assert.equal(aborted.status?.rollout?.reason, 'Aborted');
    await eventually('Ready with the old model', () => cond(getMd(ns, 'manual'), 'Ready')?.status === 'True');
    assert.equal(getCanary(ns, 'manual').status?.model?.uri, 's3://models/iris/v1');
    assert.equal(kstatusNow(ns, 'manual').status, 'Failed', 'the aborted update reads Failed until the spec changes');

    applyMd(ns, md('manual', spec('v3', {}, { canary: { steps: [{ weight: 25 }], readyTimeout: '60s' } })));
    const paused3 = await phase(ns, 'manual', 'Paused', 90_000, (m) => m.status?.rollout?.revision !== rev);
    kubectl(['annotate', 'mdep', 'manual', '-n', ns, `serving.modelship.dev/promote=${paused3.status?.rollout?.revision}`, '--overwrite']);
    await phase(ns, 'manual', 'Completed');
    await waitReady(ns, 'manual');
    assert.equal(getCanary(ns, 'manual').status?.model?.uri, 's3://models/iris/v3');
    assert.ok(ep.min() >= 1, `ready endpoints never reached zero (min ${ep.min()})`);
  });

  const causes: Array<{ name: string; pod?: Record<string, string>; extra?: Record<string, unknown>; rollout?: Record<string, unknown>; reason: string; message: RegExp }> = [
    { name: 'crash-looping (OOMKilled)', pod: { [`${FAULT}/kind`]: 'crash-loop', [`${FAULT}/reason`]: 'OOMKilled' }, reason: 'CrashLoop', message: /OOMKilled/ },
    { name: 'an image that cannot be pulled', pod: { [`${FAULT}/kind`]: 'image-pull' }, reason: 'ImagePullFailed', message: /ImagePullBackOff/ },
    { name: 'the model fetcher failing', pod: { [`${FAULT}/kind`]: 'fetcher-fail', [`${FAULT}/message`]: 'NoSuchKey: s3://models/iris/v2' }, reason: 'ModelFetchFailed', message: /NoSuchKey/ },
    { name: 'the progress deadline', pod: { [`${FAULT}/kind`]: 'not-ready' }, rollout: { progressDeadlineSeconds: 5 }, reason: 'ProgressDeadlineExceeded', message: /made no progress/ },
    { name: 'not ready within readyTimeout', pod: { [`${FAULT}/kind`]: 'not-ready' }, rollout: { canary: { steps: [{ weight: 25, pause: '3s' }], readyTimeout: '8s' } }, reason: 'ReadyTimeout', message: /ready timeout of 8 s/ },
  ];

  it('rolls back by itself for each way the new model fails, with the old model serving throughout', async (t) => {
    const runs = await Promise.all(
      causes.map(async (c) => {
        const ns = useNamespace(t, 'rb');
        const ep = await serving(ns, 'iris', 'v1', {}, c.rollout ?? {});
        const start = Date.now();
        applyMd(ns, md('iris', spec('v2', { pod: { annotations: c.pod } }, c.rollout ?? {})));
        const rolled = await phase(ns, 'iris', 'RolledBack', 120_000, () => deployments(ns).length === 1);
        return { c, ns, ep, rolled, start };
      }),
    );
    for (const { c, ns, ep, rolled, start } of runs) {
      assert.equal(rolled.status?.rollout?.reason, c.reason, c.name);
      assert.match(rolled.status?.rollout?.message ?? '', c.message, c.name);
      const m = await eventually(`${c.name}: Ready (the old model serves)`, () => {
        const x = getMd(ns, 'iris');
        return cond(x, 'Ready')?.status === 'True' ? x : undefined;
      });
      assert.equal(m.status?.model?.uri, 's3://models/iris/v1', c.name);
      assert.equal(cond(m, 'Stalled')?.status, 'True', `${c.name}: Stalled`);
      assert.equal(cond(m, 'Stalled')?.reason, 'RolledBack');
      assert.equal(kstatusNow(ns, 'iris').status, 'Failed', `${c.name}: kstatus`);
      assert.deepEqual(deployments(ns).map((d) => [d.name, d.replicas, d.ready]), [['iris', 4, 4]], `${c.name}: the old revision at full size, the canary gone`);
      assert.ok(events(ns, 'iris').some((e) => e.reason === 'RolledBack'), `${c.name}: a RolledBack event`);
      assert.ok(ep.min() >= 1, `${c.name}: ready endpoints never reached zero (min ${ep.min()})`);
      // Not retried until the spec changes.
      await sleep(2000);
      assert.equal(deployments(ns).length, 1, `${c.name}: the failed revision is not tried again`);
      t.diagnostic(`${c.name}: ${timeline(events(ns, 'iris'), start)}; min ready endpoints ${ep.min()}`);
    }
  });

  it('rolls back under an HPA without a write fight: the HPA scales only the stable slot, the operator only the canary', async (t) => {
    const ns = useNamespace(t, 'hpa');
    const auto = { replicas: undefined, autoscaling: { minReplicas: 2, maxReplicas: 4, targetCPUUtilizationPercentage: 70 } };
    applyMd(ns, md('auto', { ...spec('v1'), ...auto }));
    await waitReady(ns, 'auto');
    const ep = watchReadyEndpoints(ns, 'auto');
    watches.push(ep);
    const mark = auditOffset();
    applyMd(ns, md('auto', { ...spec('v2', { pod: { annotations: { [`${FAULT}/kind`]: 'crash-loop' } } }), ...auto }));
    await phase(ns, 'auto', 'RolledBack', 90_000, () => deployments(ns).length === 1);
    await sleep(2000);
    const writes = auditEvents(mark, auditOffset()).filter((e) => e.objectRef?.namespace === ns && e.objectRef.resource === 'deployments' && ['create', 'update', 'patch'].includes(e.verb));
    const stableByOperator = writes.filter((e) => e.user.username === OPERATOR_USER && e.objectRef?.name === 'auto');
    assert.deepEqual(stableByOperator.map((e) => `${e.verb} ${e.requestURI}`), [], 'the operator never wrote the stable Deployment (the HPA owns its size)');
    const hpaWrites = writes.filter((e) => e.user.username === 'system:serviceaccount:kube-system:horizontal-pod-autoscaler');
    assert.ok(hpaWrites.every((e) => e.objectRef?.name === 'auto'), `the HPA wrote only the stable slot: ${hpaWrites.map((e) => e.objectRef?.name).join(', ')}`);
    assert.equal(getJson<{ spec: { scaleTargetRef: { name: string } } }>(['get', 'hpa', 'auto', '-n', ns]).spec.scaleTargetRef.name, 'auto');
    assert.ok(ep.min() >= 1, `ready endpoints never reached zero (min ${ep.min()})`);
    const canaryWrites = operatorWrites(OPERATOR_USER, mark, (e) => e.objectRef?.resource === 'deployments' && e.objectRef.namespace === ns && e.objectRef.name !== 'auto');
    assert.ok(canaryWrites.length > 0, 'the operator wrote the canary Deployment');
  });

  it('rolls back a GPU model on nodes with no spare GPU: never more pods than the nodes hold, the stable slot serving', async (t) => {
    // Three nodes of 8 GPUs, three pods of 8: no spare GPU. maxSurge is 0 for GPU pods.
    await eventually('earlier GPU pods to be gone', () => {
      const used = getJson<{ items: { spec: { nodeName?: string; containers: { resources?: { limits?: Record<string, string> } }[] }; status: { phase: string } }[] }>(['get', 'pods', '-A']).items
        .filter((p) => p.spec.nodeName && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
        .reduce((n, p) => n + p.spec.containers.reduce((m, c) => m + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0), 0), 0);
      return used === 0;
    }, 120_000);
    const ns = useNamespace(t, 'gpu');
    const gpu = { replicas: 3, resources: { requests: { cpu: '1' }, limits: { 'nvidia.com/gpu': 8 } } };
    applyMd(ns, md('llm', { ...spec('v1'), ...gpu }));
    await waitReady(ns, 'llm');
    const ep = watchReadyEndpoints(ns, 'llm');
    watches.push(ep);
    let most = 0;
    let watching = true;
    const sampler = (async () => {
      while (watching) {
        const scheduled = getJson<{ items: { spec: { nodeName?: string } }[] }>(['get', 'pods', '-n', ns]).items.filter((p) => p.spec.nodeName).length;
        most = Math.max(most, scheduled);
        await sleep(200);
      }
    })();
    applyMd(ns, md('llm', { ...spec('v2', { pod: { annotations: { [`${FAULT}/kind`]: 'crash-loop' } } }), ...gpu }));
    await phase(ns, 'llm', 'RolledBack', 90_000, () => deployments(ns).length === 1);
    await waitReady(ns, 'llm');
    watching = false;
    await sampler;
    assert.deepEqual(deployments(ns).map((d) => [d.name, d.replicas, d.ready]), [['llm', 3, 3]]);
    assert.ok(most <= 3, `at most 3 pods held GPUs at once (saw ${most})`);
    assert.ok(ep.min() >= 1, `ready endpoints never reached zero (min ${ep.min()})`);
  });

  it('rolls back a RollingUpdate with autoRollback to the last ReplicaSet that served every replica', async (t) => {
    const ns = useNamespace(t, 'ru');
    const rolling = { strategy: 'RollingUpdate', autoRollback: true };
    applyMd(ns, md('ru', { replicas: 4, model: { uri: 's3://models/iris/v1', format: 'sklearn', version: 'v1' }, rollout: rolling }));
    await waitReady(ns, 'ru');
    await eventually('the history to record the serving ReplicaSet', () => getCanary(ns, 'ru').status?.history?.[0]?.replicaSet);
    const ep = watchReadyEndpoints(ns, 'ru');
    watches.push(ep);
    await eventually('the endpoint watch', () => ep.min() > 0);
    applyMd(ns, md('ru', { replicas: 4, model: { uri: 's3://models/iris/v2', format: 'sklearn', version: 'v2' }, pod: { annotations: { [`${FAULT}/kind`]: 'crash-loop' } }, rollout: rolling }));
    const rolled = await phase(ns, 'ru', 'RolledBack');
    assert.equal(rolled.status?.rollout?.reason, 'CrashLoop');
    const template = await eventually('the v1 template back on the Deployment, rolled out', () => {
      const d = getJson<{ spec: { template: { metadata: { annotations: Record<string, string> } } }; status: { readyReplicas?: number; updatedReplicas?: number; replicas?: number } }>(['get', 'deployment', 'ru', '-n', ns]);
      return d.spec.template.metadata.annotations['serving.modelship.dev/model-uri'] === 's3://models/iris/v1' && d.status.updatedReplicas === 4 && d.status.replicas === 4 && d.status.readyReplicas === 4 ? d : undefined;
    });
    assert.ok(template);
    const m = await eventually('Ready with the old model', () => {
      const x = getMd(ns, 'ru');
      return cond(x, 'Ready')?.status === 'True' ? x : undefined;
    });
    assert.equal(cond(m, 'Stalled')?.reason, 'RolledBack');
    assert.equal(kstatusNow(ns, 'ru').status, 'Failed');
    await sleep(3000);
    assert.equal(getJson<{ spec: { template: { metadata: { annotations: Record<string, string> } } } }>(['get', 'deployment', 'ru', '-n', ns]).spec.template.metadata.annotations['serving.modelship.dev/model-uri'], 's3://models/iris/v1', 'the failed revision is not applied again');
    assert.ok(ep.min() >= 1, `ready endpoints never reached zero (min ${ep.min()})`);
  });

  it('resumes a canary from the status and the children after the operator is killed mid-phase', async (t) => {
    const ns = useNamespace(t, 'kill');
    const steps = { canary: { steps: [{ weight: 25, pause: '6s' }, { weight: 50 }], readyTimeout: '60s' } };
    const ep = await serving(ns, 'res', 'v1', {}, steps);
    applyMd(ns, md('res', spec('v2', {}, steps)));
    const paused = await phase(ns, 'res', 'Paused', 60_000, (m) => m.status?.rollout?.weight === 25);
    op.child.kill('SIGKILL');
    await op.stop('SIGKILL');
    op = await startOperator({ name: 'canary-restarted', args: ['--leader-elect=false'] });
    // The timed pause resumes from the status: the next step comes at about the same time, not a full pause later.
    const at50 = await phase(ns, 'res', 'Paused', 60_000, (m) => m.status?.rollout?.weight === 50);
    assert.equal(at50.status?.rollout?.revision, paused.status?.rollout?.revision);
    op.child.kill('SIGKILL');
    await op.stop('SIGKILL');
    op = await startOperator({ name: 'canary-restarted-2', args: ['--leader-elect=false'] });
    await sleep(3000);
    assert.equal(getCanary(ns, 'res').status?.rollout?.phase, 'Paused', 'still waiting for a person after the restart');
    assert.equal(getCanary(ns, 'res').status?.rollout?.stepStartedAt, at50.status?.rollout?.stepStartedAt, 'the step did not start over');
    kubectl(['annotate', 'mdep', 'res', '-n', ns, `serving.modelship.dev/promote=${at50.status?.rollout?.revision}`, '--overwrite']);
    await phase(ns, 'res', 'Completed');
    await waitReady(ns, 'res');
    assert.ok(ep.min() >= 1, `ready endpoints never reached zero (min ${ep.min()})`);
    const steps2 = events(ns, 'res').filter((e) => e.reason === 'CanaryStarted').length;
    assert.equal(steps2, 1, 'the canary was started once, not again by the restarted operators');
  });
});
