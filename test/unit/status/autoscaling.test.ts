import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment, V1Pod, V2HorizontalPodAutoscaler, V2HorizontalPodAutoscalerCondition } from '@kubernetes/client-node';
import type { AutoscalingStatus, ServedModel } from '../../../operator/src/api/types.ts';
import { MODEL_FORMAT_ANNOTATION, MODEL_URI_ANNOTATION, RUNTIME_ANNOTATION, SERVER_CONTAINER } from '../../../operator/src/render/labels.ts';
import { autoscalingStatus, lastScale, scaleEvent, scalingNotRolling } from '../../../operator/src/status/autoscaling.ts';
import { computeStatus, type Rollout } from '../../../operator/src/status/compute.ts';

const T1 = '2026-11-29T10:00:00Z';
const T2 = '2026-11-29T10:01:30Z';

type Cond = Pick<V2HorizontalPodAutoscalerCondition, 'type' | 'status' | 'reason' | 'message'>;

const ready: Cond = { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
const rescaled: Cond = { type: 'AbleToScale', status: 'True', reason: 'SucceededRescale', message: 'the HPA controller was able to update the target scale to 6' };
const stabilized: Cond = { type: 'AbleToScale', status: 'True', reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
const within: Cond = { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
const rateLimited: Cond = { type: 'ScalingLimited', status: 'True', reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' };
const atMax: Cond = { type: 'ScalingLimited', status: 'True', reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
const activeCpu: Cond = { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' };
const activeMemory: Cond = { ...activeCpu, message: 'the HPA was able to successfully calculate a replica count from memory resource utilization (percentage of request)' };
const noMetrics: Cond = { type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: 'the HPA was unable to compute the replica count: failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)' };

function hpa(s: { current?: number; desired?: number; at?: string | Date; conditions?: Cond[]; cpu?: number } = {}): V2HorizontalPodAutoscaler {
  return {
    spec: { maxReplicas: 10, scaleTargetRef: { kind: 'Deployment', name: 'm' } },
    status: {
      currentReplicas: s.current ?? 2,
      desiredReplicas: s.desired ?? s.current ?? 2,
      // The operator's REST layer keeps the API server's strings; client-node types them as Date.
      ...(s.at !== undefined ? { lastScaleTime: s.at as Date } : {}),
      conditions: (s.conditions ?? [ready, within, activeCpu]) as V2HorizontalPodAutoscalerCondition[],
      // The live values: never on our status.
      currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: s.cpu ?? 50, averageValue: `${s.cpu ?? 50}m` } } }],
    },
  };
}

describe('the autoscaler view on the status', () => {
  it('is absent without an HPA, or before the HPA reports', () => {
    assert.equal(autoscalingStatus(undefined, undefined), undefined);
    assert.equal(autoscalingStatus({ spec: { maxReplicas: 3, scaleTargetRef: { kind: 'Deployment', name: 'm' } } }, undefined), undefined);
  });

  it('carries the sizes and the conditions that explain, never the metric values', () => {
    const s = autoscalingStatus(hpa({ current: 6, desired: 6, at: T1, conditions: [activeCpu, within, ready] }), undefined);
    assert.deepEqual(s, {
      currentReplicas: 6,
      desiredReplicas: 6,
      lastScale: { time: T1 },
      conditions: [
        { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size' },
        { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' },
      ],
    });
    assert.doesNotMatch(JSON.stringify(s), /averageUtilization|currentMetrics|50m/);
  });

  it('shows ScalingActive only when it is not True: why nothing can be decided', () => {
    const s = autoscalingStatus(hpa({ conditions: [ready, noMetrics, within] }), undefined);
    assert.deepEqual(s?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}`), ['AbleToScale=True ReadyForNewScale', 'ScalingLimited=False DesiredWithinRange', 'ScalingActive=False FailedGetResourceMetric']);
    assert.match(s?.conditions?.[2]?.message ?? '', /did not receive metrics/);
  });

  const table: { name: string; hpa: V2HorizontalPodAutoscaler; previous?: AutoscalingStatus; want: ReturnType<typeof lastScale> }[] = [
    { name: 'never scaled: none', hpa: hpa({ current: 2 }), want: undefined },
    { name: 'seen at the sync that scales: from current to desired', hpa: hpa({ current: 2, desired: 6, at: T1 }), want: { time: T1, direction: 'Up', from: 2, to: 6 } },
    { name: 'seen at the sync that scales down', hpa: hpa({ current: 6, desired: 2, at: T2 }), want: { time: T2, direction: 'Down', from: 6, to: 2 } },
    {
      name: 'seen only after it settled: from the size the previous status saw',
      hpa: hpa({ current: 6, desired: 6, at: T2 }),
      previous: { currentReplicas: 4, desiredReplicas: 4, lastScale: { time: T1, direction: 'Up', from: 2, to: 4 } },
      want: { time: T2, direction: 'Up', from: 4, to: 6 },
    },
    { name: 'first seen long after, with nothing to compare: only when', hpa: hpa({ current: 3, desired: 3, at: T1 }), want: { time: T1 } },
    {
      name: 'already recorded: kept as it is, whatever the HPA reports now',
      hpa: hpa({ current: 6, desired: 6, at: T1 }),
      previous: { currentReplicas: 6, desiredReplicas: 6, lastScale: { time: T1, direction: 'Up', from: 2, to: 6 } },
      want: { time: T1, direction: 'Up', from: 2, to: 6 },
    },
    { name: 'a Date from client-node reads as the same RFC 3339 time', hpa: hpa({ current: 2, desired: 4, at: new Date(T1) }), want: { time: T1, direction: 'Up', from: 2, to: 4 } },
  ];
  for (const c of table) {
    it(`last scale: ${c.name}`, () => assert.deepEqual(lastScale(c.hpa, c.previous), c.want));
  }

  it('is identical from sync to sync under constant load, whatever the metrics do, so no write', () => {
    const first = autoscalingStatus(hpa({ current: 6, desired: 6, at: T1, cpu: 66 }), { currentReplicas: 4, desiredReplicas: 4 });
    // The HPA refreshes its metric values every sync; which metric decided may alternate.
    for (const [cpu, active] of [[64, activeCpu], [69, activeMemory], [61, activeCpu]] as const) {
      const next = autoscalingStatus(hpa({ current: 6, desired: 6, at: T1, cpu, conditions: [ready, within, active] }), first);
      assert.deepEqual(next, first);
    }
  });

  it('changes when the reasons change: stabilizing a scale-down, held at the maximum', () => {
    const base = autoscalingStatus(hpa({ current: 6, at: T1 }), undefined);
    const held = autoscalingStatus(hpa({ current: 6, at: T1, conditions: [stabilized, within] }), base);
    assert.notDeepEqual(held, base);
    assert.equal(held?.conditions?.[0]?.reason, 'ScaleDownStabilized');
    const max = autoscalingStatus(hpa({ current: 10, at: T2, conditions: [rescaled, atMax] }), held);
    assert.deepEqual(max?.conditions?.map((c) => c.reason), ['SucceededRescale', 'TooManyReplicas']);
  });
});

describe('the scale Event', () => {
  const before: AutoscalingStatus = { currentReplicas: 2, desiredReplicas: 2, lastScale: { time: T1, direction: 'Up', from: 1, to: 2 } };
  const table: { name: string; previous: AutoscalingStatus | undefined; next: AutoscalingStatus | undefined; want: { reason: string; message: string } | undefined }[] = [
    { name: 'a new scale up', previous: before, next: { currentReplicas: 2, desiredReplicas: 4, lastScale: { time: T2, direction: 'Up', from: 2, to: 4 } }, want: { reason: 'ScaledUp', message: 'The HorizontalPodAutoscaler scaled from 2 to 4 replicas' } },
    {
      name: 'a new scale up held back by a rate limit',
      previous: before,
      next: { currentReplicas: 2, desiredReplicas: 4, lastScale: { time: T2, direction: 'Up', from: 2, to: 4 }, conditions: [{ type: 'ScalingLimited', status: 'True', reason: 'ScaleUpLimit' }] },
      want: { reason: 'ScaledUp', message: 'The HorizontalPodAutoscaler scaled from 2 to 4 replicas (limited: ScaleUpLimit)' },
    },
    { name: 'a new scale down', previous: before, next: { currentReplicas: 6, desiredReplicas: 2, lastScale: { time: T2, direction: 'Down', from: 6, to: 2 } }, want: { reason: 'ScaledDown', message: 'The HorizontalPodAutoscaler scaled from 6 to 2 replicas' } },
    { name: 'the same scale again: nothing', previous: before, next: { ...before, currentReplicas: 2 }, want: undefined },
    { name: 'the first autoscaler view (a new model, an upgrade): nothing', previous: undefined, next: before, want: undefined },
    { name: 'a scale of unknown direction: nothing', previous: before, next: { currentReplicas: 3, desiredReplicas: 3, lastScale: { time: T2 } }, want: undefined },
    { name: 'autoscaling removed: nothing', previous: before, next: undefined, want: undefined },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(scaleEvent(c.previous, c.next), c.want));
  }
});

const model: ServedModel = { uri: 's3://m/v1', format: 'sklearn', runtime: 'mlserver', image: 'mlserver:1' };

function deploymentOf(s: { replicas: number; total: number; updated: number; ready: number; generation?: number; observed?: number }): V1Deployment {
  return {
    metadata: { name: 'm', generation: s.generation ?? 4 },
    spec: { replicas: s.replicas, selector: {}, template: {
      metadata: { annotations: { [MODEL_URI_ANNOTATION]: model.uri!, [MODEL_FORMAT_ANNOTATION]: model.format!, [RUNTIME_ANNOTATION]: model.runtime! } },
      spec: { containers: [{ name: SERVER_CONTAINER, image: model.image! }] },
    } },
    status: {
      observedGeneration: s.observed ?? s.generation ?? 4, replicas: s.total, updatedReplicas: s.updated, readyReplicas: s.ready, availableReplicas: s.ready,
      conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }],
    },
  } as V1Deployment;
}

describe('a shortfall under an HPA: scaling, not rolling out', () => {
  const rolling: Rollout = { complete: false, reason: 'RollingOut', message: 'Rolling out s3://m/v1: 4 of 6 replicas are available', stalled: false };
  const other: ServedModel = { ...model, uri: 's3://m/v0' };
  const table: { name: string; dep: V1Deployment; hpa?: V2HorizontalPodAutoscaler; served?: ServedModel; rollout?: Rollout; want: string }[] = [
    { name: 'the HPA raised it, every pod on the template: ScalingUp', dep: deploymentOf({ replicas: 6, total: 6, updated: 6, ready: 4 }), hpa: hpa({ current: 4, desired: 6 }), served: model, want: 'ScalingUp: Scaling up to 6 replicas for the HorizontalPodAutoscaler: 4 of 6 are available' },
    { name: 'pods not yet created for the new size: ScalingUp', dep: deploymentOf({ replicas: 6, total: 4, updated: 4, ready: 4 }), hpa: hpa({ current: 4, desired: 6 }), served: model, want: 'ScalingUp: Scaling up to 6 replicas for the HorizontalPodAutoscaler: 4 of 6 are available' },
    { name: 'old pods left: a rollout', dep: deploymentOf({ replicas: 6, total: 7, updated: 5, ready: 6 }), hpa: hpa({ current: 6 }), served: model, want: 'RollingOut: Rolling out s3://m/v1: 4 of 6 replicas are available' },
    { name: 'a new model not yet served: a rollout', dep: deploymentOf({ replicas: 6, total: 6, updated: 6, ready: 4 }), hpa: hpa({ current: 6 }), served: other, want: 'RollingOut: Rolling out s3://m/v1: 4 of 6 replicas are available' },
    { name: 'the first rollout (nothing served yet): a rollout', dep: deploymentOf({ replicas: 2, total: 2, updated: 2, ready: 1 }), hpa: hpa({ current: 2 }), want: 'RollingOut: Rolling out s3://m/v1: 4 of 6 replicas are available' },
    { name: 'the Deployment has not observed its generation: unknown, left as is', dep: deploymentOf({ replicas: 6, total: 4, updated: 4, ready: 4, generation: 5, observed: 4 }), hpa: hpa({ current: 4, desired: 6 }), served: model, want: 'RollingOut: Rolling out s3://m/v1: 4 of 6 replicas are available' },
    { name: 'fixed replicas, no HPA: left as is', dep: deploymentOf({ replicas: 6, total: 6, updated: 6, ready: 4 }), served: model, want: 'RollingOut: Rolling out s3://m/v1: 4 of 6 replicas are available' },
    {
      name: 'a passed deadline keeps its reason',
      dep: deploymentOf({ replicas: 6, total: 6, updated: 6, ready: 4 }),
      hpa: hpa({ current: 6 }),
      served: model,
      rollout: { complete: false, reason: 'ProgressDeadlineExceeded', message: 'The rollout of s3://m/v1 made no progress within 600 s', stalled: true },
      want: 'ProgressDeadlineExceeded: The rollout of s3://m/v1 made no progress within 600 s',
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const r = scalingNotRolling(c.rollout ?? rolling, c.dep, c.hpa, model, c.served);
      assert.equal(`${r.reason}: ${r.message}`, c.want);
    });
  }
});

describe('the status of a model the HPA scaled beyond what the nodes hold', () => {
  // 8 wanted, 6 placed: the Deployment has updated every pod, 2 are Pending with the scheduler's words.
  const deployment = deploymentOf({ replicas: 8, total: 8, updated: 8, ready: 6 });
  const pending = (name: string): V1Pod => ({
    metadata: { name },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' }] },
  });
  const status = computeStatus({
    generation: 2,
    previous: { model },
    now: new Date(T2),
    desired: { model, selector: 'app.kubernetes.io/instance=m', url: 'http://m.ns.svc.cluster.local', minReplicas: 2 },
    deployment,
    hpa: hpa({ current: 8, desired: 8, at: T2, conditions: [ready, atMax] }),
    pods: [pending('m-1-h'), pending('m-1-g')],
  });
  const readyCond = status.conditions?.find((c) => c.type === 'Ready');

  it('says which pods wait and why, in the scheduler\'s words', () => {
    assert.equal(readyCond?.status, 'False');
    assert.equal(readyCond?.reason, 'Unschedulable');
    assert.equal(readyCond?.message, 'Scaling up to 8 replicas for the HorizontalPodAutoscaler: 6 of 8 are available. Pod m-1-g (and 1 more pod) cannot be scheduled: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.');
    assert.equal(status.conditions?.find((c) => c.type === 'Stalled')?.status, 'False', 'capacity may come: not a person\'s job yet');
  });

  it('keeps counting the replicas that serve, and the model they serve', () => {
    assert.equal(status.readyReplicas, 6);
    assert.deepEqual(status.model, model);
    assert.equal(status.autoscaling?.desiredReplicas, 8);
    assert.equal(status.autoscaling?.conditions?.find((c) => c.type === 'ScalingLimited')?.reason, 'TooManyReplicas');
  });
});
