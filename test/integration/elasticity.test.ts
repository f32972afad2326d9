// Elasticity on the real control plane: the traffic simulator sets each ready pod's usage from a
// load (kwok reports it, metrics-server serves it), and the real HorizontalPodAutoscaler controller
// scales the models. Judged from watches and the audit log. The windows are short to keep
// `npm test` short: scale-down stabilization 20 s (the default is 300 s), a scale-up rate limit of
// 2 pods per 15 s. The three models run at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../operator/src/api/types.ts';
import { HPA_SYNC_PERIOD_SECONDS } from '../cluster/cluster.ts';
import { startTraffic, type Traffic, type TrafficOptions } from '../traffic/simulator.ts';
import { applyMd, md, operatorWrites, waitReady } from './controller-suite.ts';
import { auditEvents, auditOffset, cluster, type AuditMark, eventually, getJson, installCrd, kubectl, useNamespace, WRITE_VERBS } from './harness.ts';
import { OPERATOR_USER, startOperator, type OperatorProcess } from './operator.ts';
import { watchObjects, type Watch, type WatchEvent } from './watch.ts';

const HPA_USER = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';
const REQUEST_CPU_MILLIS = 100;
const TARGET_CPU = 70;
/** One request per second costs 1 millicore: the idle load keeps 2 pods at 50 % of their request. */
const COST = { cpuMillis: 1 };
const IDLE_RPS = 100;
const SCALE_DOWN_WINDOW_S = 20;
const SCALE_UP_PODS = 2;
const SCALE_UP_PERIOD_S = 15;

interface EndpointSlice {
  metadata: { name: string };
  endpoints?: { conditions?: { ready?: boolean } }[] | null;
}

/** The Service's ready endpoints after each EndpointSlice event, from the first one on. */
function readyEndpoints(events: readonly WatchEvent<EndpointSlice>[]): { at: number; ready: number }[] {
  const slices = new Map<string, number>();
  return events.map((e) => {
    if (e.type === 'DELETED') slices.delete(e.object.metadata.name);
    else slices.set(e.object.metadata.name, (e.object.endpoints ?? []).filter((p) => p.conditions?.ready === true).length);
    return { at: e.at, ready: [...slices.values()].reduce((a, b) => a + b, 0) };
  });
}

/** Each change of the Deployment's spec.replicas: when, from, to. */
function replicaChanges(events: readonly WatchEvent<V1Deployment>[]): { at: number; from: number; to: number }[] {
  const out: { at: number; from: number; to: number }[] = [];
  let last: number | undefined;
  for (const e of events) {
    const n = e.object.spec?.replicas;
    if (n === undefined) continue;
    if (last !== undefined && n !== last) out.push({ at: e.at, from: last, to: n });
    last = n;
  }
  return out;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

function traffic(ns: string, model: string, over: Partial<TrafficOptions> = {}): Traffic {
  return startTraffic({ kubeconfig: cluster().kubeconfig, namespace: ns, model, cost: COST, intervalMs: 2000, ...over });
}

/** GPUs the nodes have left: their allocatable minus what bound, unfinished pods ask for. */
function freeGpus(): number {
  const nodes = getJson<{ items: { status: { allocatable: Record<string, string> } }[] }>(['get', 'nodes']).items;
  const pods = getJson<{ items: V1Pod[] }>(['get', 'pods', '-A']).items;
  const total = nodes.reduce((sum, n) => sum + Number(n.status.allocatable['nvidia.com/gpu'] ?? 0), 0);
  const used = pods
    .filter((p) => p.spec?.nodeName && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .flatMap((p) => p.spec?.containers ?? [])
    .reduce((sum, c) => sum + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0), 0);
  return total - used;
}

function model(ns: string, name: string): ModelDeployment {
  return getJson<ModelDeployment>(['get', 'mdep', name, '-n', ns]);
}

function condition(m: ModelDeployment, type: string) {
  return m.status?.conditions?.find((c) => c.type === type);
}

function hpaOf(ns: string, name: string): V2HorizontalPodAutoscaler {
  return getJson<V2HorizontalPodAutoscaler>(['get', 'hpa', name, '-n', ns]);
}

/** Once the HPA computes from real metrics (a new pod has none for about two scrapes). */
async function metricsFlowing(ns: string, name: string): Promise<V2HorizontalPodAutoscaler> {
  return eventually(`${ns}/${name}: the HPA to read metrics`, () => {
    const h = hpaOf(ns, name);
    const active = h.status?.conditions?.find((c) => c.type === 'ScalingActive');
    return active?.status === 'True' && (h.status?.currentMetrics ?? []).length > 0 ? h : undefined;
  }, 120_000, 1000);
}

describe('elasticity: the HPA scales models with simulated traffic', { concurrency: true }, () => {
  let op: OperatorProcess;
  const stops: (() => unknown)[] = [];
  before(async () => {
    installCrd();
    op = await startOperator({ name: 'elasticity', args: ['--leader-elect=false'] });
  });
  after(async () => {
    for (const stop of stops) await stop();
    assert.equal(await op.stop('SIGTERM'), 0);
  });

  it('scales up on a step ×4 under a rate limit, settles under the target, scales down only after the stabilization window, never writing spec.replicas nor losing every endpoint', async (t) => {
    const ns = useNamespace(t, 'step');
    const name = 'step';
    applyMd(ns, md(name, {
      resources: { requests: { cpu: `${REQUEST_CPU_MILLIS}m`, memory: '128Mi' } },
      autoscaling: {
        minReplicas: 2,
        maxReplicas: 10,
        targetCPUUtilizationPercentage: TARGET_CPU,
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: SCALE_UP_PODS, periodSeconds: SCALE_UP_PERIOD_S }] },
          scaleDown: { stabilizationWindowSeconds: SCALE_DOWN_WINDOW_S, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
        },
      },
    }));
    await waitReady(ns, name);
    // ±5 % a pod: real traffic is never flat, so the HPA's metric values change at every scrape
    // (at 6 replicas the average stays well within the HPA's 10 % tolerance).
    const load = traffic(ns, name, { jitter: 0.05, seed: 11 });
    stops.push(() => load.stop());
    await load.setLoad(IDLE_RPS, 'idle');
    const deployment = await watchObjects<V1Deployment>('deployment', ns, [name]);
    const endpoints = await watchObjects<EndpointSlice>('endpointslices', ns, ['-l', `kubernetes.io/service-name=${name}`]);
    const status = await watchObjects<ModelDeployment>('mdep', ns, [name]);
    stops.push(() => [deployment, endpoints, status].forEach((w) => w.stop()));
    const idle = await metricsFlowing(ns, name);
    assert.equal(idle.status?.desiredReplicas, 2, 'the idle load needs no more than the minimum');

    // Step ×4: 400 millicores over pods that each request 100.
    const mark = auditOffset();
    const step = await load.setLoad(IDLE_RPS * 4, 'step ×4');
    const settled = 6; // the fewest replicas with 400m ÷ n under 70 % of 100m: 400/6 = 67 %, 400/5 = 80 %
    assert.ok((IDLE_RPS * 4 * COST.cpuMillis) / settled < (TARGET_CPU * REQUEST_CPU_MILLIS) / 100);
    assert.ok((IDLE_RPS * 4 * COST.cpuMillis) / (settled - 1) > (TARGET_CPU * REQUEST_CPU_MILLIS) / 100);
    await deployment.until(`${settled} ready replicas`, (e) => e.object.spec?.replicas === settled && e.object.status?.readyReplicas === settled, 150_000);
    // Settled: the HPA has synced since its last scale, and the status says so.
    const rest = await status.until('the status to show the autoscaler at rest', (e) => {
      const a = e.object.status?.autoscaling;
      return a?.currentReplicas === settled && a.desiredReplicas === settled && a.conditions?.[0]?.reason === 'ReadyForNewScale' && e.object.status?.readyReplicas === settled;
    }, 60_000);

    // Constant load, no scaling: the operator writes nothing, though the HPA refreshes its metrics.
    // metrics-server has a new value every 10 s and the HPA writes its status when the value it
    // computes changes: the window lasts 30 s, and longer (10 s at a time, up to 90 s) until the HPA
    // has written at least twice, since on a busy machine a scrape can come late or repeat a value.
    await sleep(2000);
    const holdFrom = auditOffset();
    const hpaWrites = (to: AuditMark) => auditEvents(holdFrom, to).filter((e) => e.user.username === HPA_USER && e.objectRef?.namespace === ns && e.objectRef.resource === 'horizontalpodautoscalers' && WRITE_VERBS.has(e.verb));
    await sleep(30_000);
    let holdTo = auditOffset();
    while (hpaWrites(holdTo).length < 2 && holdTo.ms - holdFrom.ms < 90_000) {
      await sleep(10_000);
      holdTo = auditOffset();
    }
    const holdS = seconds(holdTo.ms - holdFrom.ms);
    const atRest = operatorWrites(OPERATOR_USER, holdFrom, (e) => e.objectRef?.namespace === ns, holdTo);
    assert.deepEqual(atRest.map((e) => `${e.verb} ${e.requestURI}`), [], `no write at all for a model under constant load (${holdS} s)`);
    const hpaUpdates = hpaWrites(holdTo);
    assert.ok(hpaUpdates.length >= 2, `the HPA refreshed its status ${hpaUpdates.length} times in ${holdS} s, and the operator wrote nothing`);
    assert.deepEqual(replicaChanges(deployment.events).filter((c) => c.at >= holdFrom.ms), [], 'and nothing scaled');

    // Back to idle: down to the minimum, not before the stabilization window. The HPA keeps the
    // highest recommendation of the window; the last high one is the last sync that still saw the
    // old load, at most one sync period before the first low one (when the status first says
    // ScaleDownStabilized), and possibly just before the drop itself. (A recommendation made from a
    // scrape half-way through the change may be held in turn: 6 → 3 → 2 would be right too.)
    const drop = await load.setLoad(IDLE_RPS, 'idle');
    const down = await deployment.until('the first scale-down', (e) => e.at > drop.at && (e.object.spec?.replicas ?? settled) < settled, 120_000);
    await deployment.until('2 ready replicas', (e) => e.object.spec?.replicas === 2 && e.object.status?.readyReplicas === 2 && e.object.status.replicas === 2, 60_000);
    const end = auditOffset();
    const waited = down.at - drop.at;
    const held = status.events.find((e) => e.at > drop.at && e.object.status?.autoscaling?.conditions?.some((c) => c.reason === 'ScaleDownStabilized'));
    assert.ok(held && held.at < down.at, 'meanwhile the status said why it did not scale down yet: ScaleDownStabilized');
    const window = (SCALE_DOWN_WINDOW_S - HPA_SYNC_PERIOD_SECONDS) * 1000;
    assert.ok(down.at - held.at >= window - 2000, `scaled down ${seconds(down.at - held.at)} s after the HPA first wanted to: held for the ${SCALE_DOWN_WINDOW_S} s window (less one ${HPA_SYNC_PERIOD_SECONDS} s sync)`);
    assert.ok(waited >= window, `scaled down ${seconds(waited)} s after the load dropped: not before the window`);
    assert.ok(waited <= (SCALE_DOWN_WINDOW_S + 40) * 1000, `scaled down ${seconds(waited)} s after the load dropped`);

    // The way up honoured the rate limit: at most 2 pods per 15 s, and the status said so.
    const changes = replicaChanges(deployment.events);
    const ups = changes.filter((c) => c.to > c.from);
    const path = changes.map((c) => `${c.from}→${c.to}`).join(', ');
    assert.deepEqual(ups.map((c) => c.to), [4, 6], `up: ${path}`);
    assert.ok(changes.slice(2).every((c) => c.to < c.from && c.at >= down.at) && changes.at(-1)?.to === 2, `then only down, to 2: ${path}`);
    for (const [i, u] of ups.entries()) {
      assert.ok(u.to - u.from <= SCALE_UP_PODS, `step ${u.from}→${u.to} within ${SCALE_UP_PODS} pods`);
      const prev = ups[i - 1];
      if (prev) assert.ok(u.at - prev.at >= (SCALE_UP_PERIOD_S - 1) * 1000, `${seconds(u.at - prev.at)} s between scale-ups (policy: ${SCALE_UP_PERIOD_S} s)`);
    }
    assert.ok(status.events.some((e) => e.object.status?.autoscaling?.conditions?.some((c) => c.type === 'ScalingLimited' && c.reason === 'ScaleUpLimit')), 'the status showed ScaleUpLimit');
    assert.deepEqual(rest.object.status?.autoscaling?.lastScale && { direction: rest.object.status.autoscaling.lastScale.direction, from: rest.object.status.autoscaling.lastScale.from, to: rest.object.status.autoscaling.lastScale.to }, { direction: 'Up', from: 4, to: 6 });
    const recorded = await status.until('the status to record the scale-down to 2', (e) => e.at > drop.at && e.object.status?.autoscaling?.lastScale?.to === 2, 30_000);
    assert.equal(recorded.object.status?.autoscaling?.lastScale?.direction, 'Down');
    const events = await eventually('the ScaledDown Event', () => {
      const out = kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=ModelDeployment', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
      return / to 2 replicas/.test(out) ? out : undefined;
    }, 30_000);
    assert.match(events, /ScaledUp: The HorizontalPodAutoscaler scaled from 2 to 4 replicas \(limited: ScaleUpLimit\)/);
    assert.match(events, /ScaledUp: The HorizontalPodAutoscaler scaled from 4 to 6 replicas/);
    assert.match(events, /ScaledDown: The HorizontalPodAutoscaler scaled from 6 to \d replicas/);

    // The HPA did all the scaling; the operator never wrote the Deployment.
    const writes = auditEvents(mark, end).filter((e) => e.objectRef?.namespace === ns && e.objectRef.resource === 'deployments' && WRITE_VERBS.has(e.verb));
    assert.deepEqual(writes.filter((e) => e.user.username === OPERATOR_USER).map((e) => `${e.verb} ${e.requestURI}`), [], 'no write to the Deployment (spec.replicas) by the operator');
    assert.equal(writes.filter((e) => e.user.username === HPA_USER && e.objectRef?.subresource === 'scale').length, changes.length, `the HPA made every change: ${path}`);

    // The Service kept ready endpoints all along: never fewer than the minimum.
    assert.ok(endpoints.alive() && deployment.alive(), 'the watches saw everything');
    const ready = readyEndpoints(endpoints.events);
    const fewest = Math.min(...ready.map((r) => r.ready));
    assert.ok(fewest >= 2, `the Service's ready endpoints never fell below 2 (fewest: ${fewest}, over ${ready.length} EndpointSlice versions)`);

    const upTimes = ups.map((u) => `${u.from}→${u.to} at +${seconds(u.at - step.at)} s`).join(', ');
    t.diagnostic(`step ×4 (${IDLE_RPS}→${IDLE_RPS * 4} rps): ${upTimes}; settled at ${settled}; load dropped: ScaleDownStabilized at +${seconds(held.at - drop.at)} s, ${changes.slice(2).map((c) => `${c.from}→${c.to} at +${seconds(c.at - drop.at)} s`).join(', ')} (window ${SCALE_DOWN_WINDOW_S} s); ready endpoints ${fewest}..${Math.max(...ready.map((r) => r.ready))}; the HPA wrote its status ${hpaUpdates.length} times in the ${holdS} s at rest, the operator 0 times`);
  });

  it('keeps serving with the pods that fit when the HPA wants more GPUs than the nodes hold, and says why the rest wait', async (t) => {
    const ns = useNamespace(t, 'gpu');
    const name = 'llm';
    const GPUS = 4;
    const MAX = 8; // 32 GPUs: more than the 3 nodes' 24
    const fits = Math.floor(freeGpus() / GPUS);
    assert.ok(fits >= 2 && fits < MAX, `${fits} pods of ${GPUS} GPUs fit`);
    applyMd(ns, md(name, {
      resources: { requests: { cpu: `${REQUEST_CPU_MILLIS}m`, memory: '128Mi' }, limits: { 'nvidia.com/gpu': GPUS } },
      autoscaling: { minReplicas: 2, maxReplicas: MAX, targetCPUUtilizationPercentage: TARGET_CPU },
    }));
    await waitReady(ns, name);
    const load = traffic(ns, name);
    stops.push(() => load.stop());
    await load.setLoad(IDLE_RPS, 'idle');
    const endpoints = await watchObjects<EndpointSlice>('endpointslices', ns, ['-l', `kubernetes.io/service-name=${name}`]);
    stops.push(() => endpoints.stop());
    await metricsFlowing(ns, name);
    await load.setLoad(IDLE_RPS * 20, 'rush');
    const m = await eventually('the status to say why the extra pods wait', () => {
      const x = model(ns, name);
      return x.status?.autoscaling?.desiredReplicas === MAX && x.status.readyReplicas === fits && condition(x, 'Ready')?.reason === 'Unschedulable' ? x : undefined;
    }, 150_000, 1000);
    const ready = condition(m, 'Ready');
    assert.match(ready?.message ?? '', new RegExp(`^Scaling up to ${MAX} replicas for the HorizontalPodAutoscaler: ${fits} of ${MAX} are available\\. Pod ${name}-\\S+ \\(and ${MAX - fits - 1} more pods?\\) cannot be scheduled: 0/3 nodes are available: 3 Insufficient nvidia\\.com/gpu`));
    assert.equal(condition(m, 'Stalled')?.status, 'False', 'capacity may come (a cluster autoscaler): not Stalled');
    assert.equal(m.status?.autoscaling?.conditions?.find((c) => c.type === 'ScalingLimited')?.reason, 'TooManyReplicas', 'and the autoscaler is at its maximum');
    const pods = getJson<{ items: V1Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]).items;
    const pending = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False'));
    assert.equal(pending.length, MAX - fits, 'the extra pods stay Pending');
    assert.match(kubectl(['get', 'mdep', name, '-n', ns, '--no-headers']), new RegExp(`False\\s+Unschedulable\\s+${fits}\\s+${MAX}\\b`));
    // The ready ones keep serving: the Service never lost them.
    await sleep(10_000);
    assert.ok(endpoints.alive());
    const counts = readyEndpoints(endpoints.events).map((r) => r.ready);
    assert.ok(Math.min(...counts) >= 2, `never fewer than 2 ready endpoints (${counts.join(' ')})`);
    assert.equal(counts.at(-1), fits, `${fits} ready endpoints`);
    t.diagnostic(`${fits} of ${MAX} placed, ${MAX - fits} Pending: ${ready?.message}`);
  });

  it('scales on memory (targetMemoryUtilizationPercentage) too, and kubectl top shows what the simulator set', async (t) => {
    const ns = useNamespace(t, 'mem');
    const name = 'mem';
    applyMd(ns, md(name, {
      resources: { requests: { cpu: `${REQUEST_CPU_MILLIS}m`, memory: '128Mi' } },
      autoscaling: { minReplicas: 2, maxReplicas: 6, targetMemoryUtilizationPercentage: 70 },
    }));
    await waitReady(ns, name);
    // Each request per second holds 1 MiB; an idle server holds 10 MiB. Idle: 60 MiB a pod (47 %).
    const load = traffic(ns, name, { cost: { cpuMillis: 1, memoryMiB: 1 }, idle: { cpuMillis: 1, memoryMiB: 10 } });
    stops.push(() => load.stop());
    await load.setLoad(IDLE_RPS, 'idle');
    const deployment = await watchObjects<V1Deployment>('deployment', ns, [name]);
    stops.push(() => deployment.stop());
    const idle = await metricsFlowing(ns, name);
    assert.deepEqual(idle.spec?.metrics?.map((x) => x.resource?.name), ['memory'], 'memory is the only target');
    const step = await load.setLoad(IDLE_RPS * 4, 'step ×4');
    // 400 MiB of requests + 10 MiB a pod: 5 pods hold 90 MiB each, 70 % of 128 MiB.
    const up = await deployment.until('the scale-up to 5', (e) => e.object.spec?.replicas === 5 && e.object.status?.readyReplicas === 5, 150_000);
    const rescale = await eventually('the HPA to say it scaled on memory', () => {
      const out = kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=HorizontalPodAutoscaler,reason=SuccessfulRescale', '-o', 'jsonpath={.items[*].message}']);
      return /memory resource utilization \(percentage of request\) above target/.test(out) ? out : undefined;
    }, 30_000);
    assert.ok(rescale);
    // metrics-server serves kwok's emulated usage: 400 rps over 5 pods, 80 MiB + 10 MiB idle each.
    const top = await eventually('kubectl top to show the 5 pods', () => {
      const rows = kubectl(['top', 'pods', '-n', ns, '--no-headers']).trim().split('\n').map((l) => l.trim().split(/\s+/));
      return rows.length === 5 && rows.every((r) => r[2] === '90Mi') ? rows : undefined;
    }, 60_000, 2000);
    assert.ok(top.every((r) => /^\d+m$/.test(r[1] ?? '')), 'with their CPU');
    t.diagnostic(`memory step ×4: ${replicaChanges(deployment.events).map((c) => `${c.from}→${c.to} at +${seconds(c.at - step.at)} s`).join(', ')} (5 ready at +${seconds(up.at - step.at)} s)`);
  });
});
