// The traffic simulator, for the tests, the demo and the benchmark: given a model (its namespace
// and name) and a load, it sets every few seconds each ready pod's emulated usage (the annotations
// kwok reports to metrics-server) to load ÷ ready pods × cost per request. The HorizontalPodAutoscaler
// then sees what it would see under real traffic: more replicas, less usage per pod.
//
//   const traffic = startTraffic({ kubeconfig, namespace, model: 'fraud-detector', cost: { cpuMillis: 5 } });
//   await traffic.setLoad(100);                 // a constant load, applied at once
//   traffic.play(profiles.spike({ ... }));      // or a scripted profile
//   await traffic.stop();
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { isNotFound } from '../../operator/src/kube/errors.ts';
import { RestClient } from '../../operator/src/kube/rest.ts';
import { INSTANCE_LABEL } from '../../operator/src/render/labels.ts';
import { hold, loadAt, type Profile } from './profiles.ts';
import { DEFAULT_IDLE, jittered, seededRandom, usageAnnotations, usagePerPod, type IdleUsage, type PodUsage, type RequestCost } from './usage.ts';

export interface TrafficOptions {
  /** A kubeconfig allowed to list and patch the model's pods. */
  kubeconfig: string;
  namespace: string;
  /** The ModelDeployment's name: its pods carry app.kubernetes.io/instance=NAME. */
  model: string;
  cost: RequestCost;
  idle?: IdleUsage;
  /** How often the usage is set again; default 3 s. */
  intervalMs?: number;
  /** Each pod's usage moves by a random fraction within ±jitter at each tick; default 0. */
  jitter?: number;
  seed?: number;
  /** Called after each tick. */
  onTick?: (tick: Tick) => void;
}

/** What one round of the simulator did. */
export interface Tick {
  /** Epoch milliseconds. */
  at: number;
  rps: number;
  phase: string;
  readyPods: number;
  /** The usage of each ready pod, before jitter; undefined when no pod is ready. */
  perPod: PodUsage | undefined;
  /** Pods whose annotations this tick changed. */
  patched: number;
  error?: string;
}

export interface Traffic {
  /** A constant load from now on, applied before this resolves. */
  setLoad(rps: number, label?: string): Promise<Tick>;
  /** Plays a profile from now on; resolves when it ends (the last load stays). */
  play(profile: Profile): Promise<void>;
  /** The load now. */
  load(): { rps: number; phase: string };
  readonly ticks: readonly Tick[];
  stop(): Promise<void>;
}

function isReady(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp === undefined && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export function startTraffic(opts: TrafficOptions): Traffic {
  const rest = RestClient.forKubeconfig(opts.kubeconfig, { userAgent: 'modelship-traffic' });
  const interval = opts.intervalMs ?? 3000;
  const random = seededRandom(opts.seed ?? 1);
  const ticks: Tick[] = [];
  let profile: Profile = [hold('idle', 0, 0)];
  let startedAt = Date.now();
  let stopped = false;
  let running: Promise<Tick> = Promise.resolve(undefined as unknown as Tick);

  const now = () => loadAt(profile, (Date.now() - startedAt) / 1000);
  const podsPath = `/api/v1/namespaces/${opts.namespace}/pods`;

  async function tick(): Promise<Tick> {
    const { rps, phase } = now();
    const t: Tick = { at: Date.now(), rps, phase, readyPods: 0, perPod: undefined, patched: 0 };
    try {
      const list = await rest.request<{ items: V1Pod[] }>('GET', podsPath, { query: { labelSelector: `${INSTANCE_LABEL}=${opts.model}` } });
      const ready = list.items.filter(isReady);
      t.readyPods = ready.length;
      t.perPod = usagePerPod(rps, ready.length, opts.cost, opts.idle ?? DEFAULT_IDLE);
      const base = t.perPod;
      if (base !== undefined) {
        const patches = ready.map(async (pod) => {
          const want = usageAnnotations(jittered(base, opts.jitter ?? 0, random));
          const have = pod.metadata?.annotations ?? {};
          if (Object.entries(want).every(([k, v]) => have[k] === v)) return 0;
          try {
            await rest.request('PATCH', `${podsPath}/${pod.metadata?.name}`, { body: { metadata: { annotations: want } }, contentType: 'application/merge-patch+json' });
            return 1;
          } catch (err) {
            if (isNotFound(err)) return 0; // gone since the list: it takes no traffic
            throw err;
          }
        });
        t.patched = (await Promise.all(patches)).reduce<number>((a, b) => a + b, 0);
      }
    } catch (err) {
      t.error = (err as Error).message;
    }
    ticks.push(t);
    opts.onTick?.(t);
    return t;
  }

  /** Runs a tick after the one in flight, never two at once. */
  function tickNow(): Promise<Tick> {
    running = running.then(tick, tick);
    return running;
  }

  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopped) {
      await tickNow();
      await sleep(interval, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  return {
    ticks,
    load: () => {
      const { rps, phase } = now();
      return { rps, phase };
    },
    async setLoad(rps, label = 'constant') {
      profile = [hold(label, rps, 0)];
      startedAt = Date.now();
      return tickNow();
    },
    async play(p) {
      profile = p;
      startedAt = Date.now();
      const started = startedAt;
      await tickNow();
      while (!stopped && startedAt === started && !now().done) await sleep(Math.min(interval, 500), undefined, { signal: stopping.signal }).catch(() => undefined);
    },
    async stop() {
      stopped = true;
      stopping.abort();
      await loop;
      await running;
    },
  };
}
