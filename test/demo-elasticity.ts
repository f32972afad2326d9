// The demo's second act: traffic on the autoscaled example, and a live table of what the
// HorizontalPodAutoscaler does with it, until the model has scaled up and come back down.
//
// The load is 120 requests per second at 5 millicores each, shared by the ready pods (each requests
// 1 CPU, target 70 %): 30 % of a pod at 2 replicas. Then ×9 for as long as it takes the autoscaler
// to settle (8 replicas: 69 % each), then back to idle until it is down to its minimum again.
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelDeployment } from '../operator/src/api/types.ts';
import { RestClient } from '../operator/src/kube/rest.ts';
import { header, row, type Sample } from './traffic/report.ts';
import { startTraffic } from './traffic/simulator.ts';

export interface ActOptions {
  kubectl: string;
  kubeconfig: string;
  namespace: string;
  /** The autoscaled example's name. */
  model: string;
  /** The scale-down stabilization window the act sets, in seconds (the example has 300). */
  scaleDownWindowSeconds: number;
  say(line: string): void;
  signal: AbortSignal;
  /** Seconds between rows. */
  everySeconds?: number;
}

export interface ActResult {
  /** Seconds from the load's rise to the last new ready replica, and from its fall to the minimum (at row resolution). */
  upSeconds?: number;
  downSeconds?: number;
  peak: number;
  finished: boolean;
}

const IDLE_RPS = 120;
const HIGH_RPS = IDLE_RPS * 9;
const COST = { cpuMillis: 5 };
const TARGET_PERCENT = 70;

export async function elasticityAct(o: ActOptions): Promise<ActResult> {
  const rest = RestClient.forKubeconfig(o.kubeconfig, { userAgent: 'modelship-demo' });
  const get = <T>(path: string) => rest.request<T>('GET', path).catch(() => undefined);
  const base = `/namespaces/${o.namespace}`;
  const scaleDown = { stabilizationWindowSeconds: o.scaleDownWindowSeconds, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };
  execFileSync(o.kubectl, ['--kubeconfig', o.kubeconfig, 'patch', 'mdep', o.model, '-n', o.namespace, '--type=merge', '-p', JSON.stringify({ spec: { autoscaling: { behavior: { scaleDown } } } })], { stdio: 'ignore' });
  const first = await get<ModelDeployment>(`/apis/serving.modelship.dev/v1alpha1${base}/modeldeployments/${o.model}`);
  const min = first?.spec.autoscaling?.minReplicas ?? 1;
  const max = first?.spec.autoscaling?.maxReplicas ?? 10;
  const request = Number.parseFloat(String(first?.spec.resources?.requests?.cpu ?? '1')) * 1000;
  const target = first?.spec.autoscaling?.targetCPUUtilizationPercentage ?? TARGET_PERCENT;
  o.say(`    ${o.model}: ${min} to ${max} replicas, target ${target} % of a ${request}m CPU request; each request costs ${COST.cpuMillis}m of CPU.`);
  o.say(`    The demo shortens its scale-down stabilization window from 300 s to ${o.scaleDownWindowSeconds} s (and lets it drop all extra replicas at once), so you can watch it come back down; examples/ keeps 300 s.`);
  o.say('');

  const traffic = startTraffic({ kubeconfig: o.kubeconfig, namespace: o.namespace, model: o.model, cost: COST, intervalMs: 2000, jitter: 0.02 });
  const started = Date.now();
  const result: ActResult = { peak: 0, finished: false };
  let phase: 'idle' | 'step up' | 'back to idle' = 'idle';
  let phaseAt = started;
  let heldAtPeak = 0;
  let lastReady = 0;
  // The model's status has caught up with the HPA's last scale and the Deployment's size (the
  // operator writes it about a second after they change; its ScaledDown event goes with it), so
  // what is printed after the act shows the model back at its minimum.
  const reported = (md: ModelDeployment | undefined, hpa: V2HorizontalPodAutoscaler | undefined): boolean =>
    md?.status?.replicas === min && md.status.autoscaling?.desiredReplicas === min && md.status.autoscaling.lastScale?.time === String(hpa?.status?.lastScaleTime);
  await traffic.setLoad(IDLE_RPS, 'idle');
  o.say(header());
  try {
    while (!o.signal.aborted) {
      const [hpa, dep, md] = await Promise.all([
        get<V2HorizontalPodAutoscaler>(`/apis/autoscaling/v2${base}/horizontalpodautoscalers/${o.model}`),
        get<V1Deployment>(`/apis/apps/v1${base}/deployments/${o.model}`),
        get<ModelDeployment>(`/apis/serving.modelship.dev/v1alpha1${base}/modeldeployments/${o.model}`),
      ]);
      const tick = traffic.ticks.at(-1);
      const ready = dep?.status?.readyReplicas ?? 0;
      const desired = hpa?.status?.desiredReplicas ?? 0;
      const sample: Sample = { seconds: (Date.now() - started) / 1000, phase, rps: traffic.load().rps, cpuMillisPerPod: tick?.perPod?.cpuMillis, requestMillis: request, hpa, readyReplicas: ready, model: md };
      o.say(row(sample, Math.max(8, result.peak, ready)));
      const metrics = hpa?.status?.conditions?.some((c) => c.type === 'ScalingActive' && c.status === 'True') === true;
      const since = (Date.now() - phaseAt) / 1000;
      if (ready > lastReady && phase === 'step up') result.upSeconds = since;
      if (ready === min && ready < lastReady && phase === 'back to idle') result.downSeconds = since;
      lastReady = ready;
      result.peak = Math.max(result.peak, ready);
      if (phase === 'idle' && metrics && since >= 9) {
        phase = 'step up';
        phaseAt = Date.now();
        await traffic.setLoad(HIGH_RPS, phase);
      } else if (phase === 'step up') {
        // Settled: the HPA has scaled for this load, sees it spread within its tolerance (10 %)
        // of the target, and every replica it wants is ready.
        const cpu = hpa?.status?.currentMetrics?.find((m) => m.resource?.name === 'cpu')?.resource?.current.averageUtilization;
        const scaled = Date.parse(String(hpa?.status?.lastScaleTime ?? 0)) >= phaseAt - 1000;
        const withinTarget = cpu !== undefined && cpu <= target * 1.1;
        heldAtPeak = scaled && withinTarget && ready === desired && hpa?.status?.currentReplicas === desired ? heldAtPeak + 1 : 0;
        if (heldAtPeak >= 2 || since > 240) {
          phase = 'back to idle';
          phaseAt = Date.now();
          await traffic.setLoad(IDLE_RPS, phase);
        }
      } else if (phase === 'back to idle' && ((ready === min && desired === min && dep?.status?.replicas === min && reported(md, hpa)) || since > o.scaleDownWindowSeconds + 180)) {
        result.finished = ready === min;
        break;
      }
      await sleep((o.everySeconds ?? 3) * 1000, undefined, { signal: o.signal }).catch(() => undefined);
    }
  } finally {
    await traffic.stop();
  }
  return result;
}
