import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../../operator/src/api/types.ts';
import { duration, loadAt, profiles } from '../../traffic/profiles.ts';
import { header, hpaCpu, row, statusLine } from '../../traffic/report.ts';
import { jittered, seededRandom, usageAnnotations, usagePerPod } from '../../traffic/usage.ts';

describe('traffic profiles', () => {
  const step = profiles.stepUp({ idle: 100, factor: 4, idleSeconds: 10, highSeconds: 30, afterSeconds: 20 });
  const table: { name: string; profile: ReturnType<typeof profiles.idle>; t: number; rps: number; phase: string; done?: boolean }[] = [
    { name: 'step: idle at the start', profile: step, t: 0, rps: 100, phase: 'idle' },
    { name: 'step: up at once when the idle phase ends', profile: step, t: 10, rps: 400, phase: 'step up' },
    { name: 'step: still up just before the end of the high phase', profile: step, t: 39.9, rps: 400, phase: 'step up' },
    { name: 'step: back to idle', profile: step, t: 40, rps: 100, phase: 'back to idle' },
    { name: 'step: idle stays after the end', profile: step, t: 1000, rps: 100, phase: 'back to idle', done: true },
    { name: 'ramp: halfway up the ramp', profile: profiles.ramp({ idle: 100, peak: 500, idleSeconds: 5, rampSeconds: 20, peakSeconds: 10, afterSeconds: 5 }), t: 15, rps: 300, phase: 'ramp' },
    { name: 'ramp: at the peak', profile: profiles.ramp({ idle: 100, peak: 500, idleSeconds: 5, rampSeconds: 20, peakSeconds: 10, afterSeconds: 5 }), t: 25, rps: 500, phase: 'peak' },
    { name: 'spike: the burst', profile: profiles.spike({ idle: 50, peak: 800, idleSeconds: 5, spikeSeconds: 3, afterSeconds: 5 }), t: 6, rps: 800, phase: 'spike' },
    { name: 'spike: over', profile: profiles.spike({ idle: 50, peak: 800, idleSeconds: 5, spikeSeconds: 3, afterSeconds: 5 }), t: 8, rps: 50, phase: 'back to idle' },
    { name: 'idle', profile: profiles.idle(20, 60), t: 30, rps: 20, phase: 'idle' },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(loadAt(c.profile, c.t), { rps: c.rps, phase: c.phase, done: c.done ?? false }));
  }
  it('lasts as long as its phases', () => assert.equal(duration(step), 60));
});

describe('usage per pod', () => {
  const cost = { cpuMillis: 1, memoryMiB: 0.5 };
  const idle = { cpuMillis: 1, memoryMiB: 10 };
  const table: { name: string; rps: number; ready: number; want: { cpuMillis: number; memoryMiB: number } | undefined }[] = [
    { name: 'the load is shared by the ready pods', rps: 400, ready: 2, want: { cpuMillis: 201, memoryMiB: 110 } },
    { name: 'more replicas lower the usage of each', rps: 400, ready: 8, want: { cpuMillis: 51, memoryMiB: 35 } },
    { name: 'no load: what an idle server uses', rps: 0, ready: 3, want: { cpuMillis: 1, memoryMiB: 10 } },
    { name: 'no ready pod: nobody takes the load', rps: 400, ready: 0, want: undefined },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(usagePerPod(c.rps, c.ready, cost, idle), c.want));
  }

  it('writes whole millicores and MiB, at least 1, in the annotations kwok reads', () => {
    assert.deepEqual(usageAnnotations({ cpuMillis: 66.7, memoryMiB: 0.2 }), { 'kwok.x-k8s.io/usage-cpu': '67m', 'kwok.x-k8s.io/usage-memory': '1Mi' });
  });

  it('jitters within the bound, the same way for the same seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const u = jittered({ cpuMillis: 100, memoryMiB: 100 }, 0.05, a);
      assert.ok(u.cpuMillis >= 95 && u.cpuMillis <= 105 && u.memoryMiB >= 95 && u.memoryMiB <= 105, JSON.stringify(u));
      assert.deepEqual(jittered({ cpuMillis: 100, memoryMiB: 100 }, 0.05, b), u);
    }
    assert.deepEqual(jittered({ cpuMillis: 100, memoryMiB: 100 }, 0, a), { cpuMillis: 100, memoryMiB: 100 });
  });
});

describe('the live table', () => {
  const hpa = (current?: number): V2HorizontalPodAutoscaler => ({
    spec: { maxReplicas: 20, scaleTargetRef: { kind: 'Deployment', name: 'm' }, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
    status: { currentReplicas: 4, desiredReplicas: 8, ...(current === undefined ? {} : { currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: current } } }] }) },
  });
  const md = (over: Partial<NonNullable<ModelDeployment['status']>>): ModelDeployment => ({
    apiVersion: 'serving.modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'm' },
    spec: { model: { uri: 's3://m/v1', format: 'xgboost' } },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'Serving', lastTransitionTime: '2026-11-29T10:00:00Z' }], ...over },
  });

  it('shows what the HPA sees, or <unknown> before it has metrics, as kubectl get hpa does', () => {
    assert.equal(hpaCpu(hpa(135)), '135%/70%');
    assert.equal(hpaCpu(hpa()), '<unknown>/70%');
    assert.equal(hpaCpu(undefined), '<unknown>/?');
  });

  const lines: { name: string; md: ModelDeployment | undefined; want: string }[] = [
    { name: 'no status yet', md: undefined, want: '(no status yet)' },
    {
      name: 'held back by a rate limit, after a scale up',
      md: md({ autoscaling: { currentReplicas: 2, desiredReplicas: 4, lastScale: { time: 't', direction: 'Up', from: 2, to: 4 }, conditions: [
        { type: 'AbleToScale', status: 'True', reason: 'SucceededRescale' },
        { type: 'ScalingLimited', status: 'True', reason: 'ScaleUpLimit' },
      ] } }),
      want: 'Ready/Ready · SucceededRescale · ScaleUpLimit · last Up 2→4',
    },
    {
      name: 'no metrics yet: why nothing happens',
      md: md({ autoscaling: { currentReplicas: 2, desiredReplicas: 2, conditions: [
        { type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale' },
        { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange' },
        { type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric' },
      ] } }),
      want: 'Ready/Ready · SucceededGetScale · FailedGetResourceMetric',
    },
    {
      name: 'not ready while the new pods start',
      md: md({ conditions: [{ type: 'Ready', status: 'False', reason: 'ScalingUp', message: 'Scaling up', lastTransitionTime: 't' }] }),
      want: 'NotReady/ScalingUp',
    },
  ];
  for (const c of lines) {
    it(`status line: ${c.name}`, () => assert.equal(statusLine(c.md), c.want));
  }

  it('prints one aligned row: load, CPU per pod (and of its request), the HPA, a bar of ready replicas', () => {
    const s = row({ seconds: 42.4, phase: 'step up', rps: 1080, cpuMillisPerPod: 1351, requestMillis: 1000, hpa: hpa(271), readyReplicas: 4, model: undefined }, 8);
    assert.equal(s, '  42s  step up         1080 rps     1351m 135%        271%/70%        8  ████···· 4          (no status yet)');
    assert.equal(header().indexOf('status'), s.indexOf('(no status yet)'), 'the status column lines up with its header');
    assert.match(row({ seconds: 0, phase: 'idle', rps: 0, cpuMillisPerPod: undefined, requestMillis: 1000, hpa: undefined, readyReplicas: 0, model: undefined }, 8), /^\s+0s\s+idle\s+0 rps\s+-\s+<unknown>\/\?\s+-\s+········ 0/);
  });
});
