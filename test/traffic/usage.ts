// Pure: what each ready pod of a model uses under a load, as real traffic spread by a Service
// would make it: the load ÷ the ready pods × the cost of one request, on top of what an idle server
// uses. More ready replicas really lower the usage per pod. kwok reports it to metrics-server from
// the pod annotations below (its ClusterResourceUsage usage-from-annotation).

export const CPU_ANNOTATION = 'kwok.x-k8s.io/usage-cpu';
export const MEMORY_ANNOTATION = 'kwok.x-k8s.io/usage-memory';

/** What one request per second costs a pod: CPU in millicores, memory in MiB (say, its buffers). */
export interface RequestCost {
  cpuMillis: number;
  memoryMiB?: number;
}

/** What a ready pod uses with no traffic. */
export interface IdleUsage {
  cpuMillis: number;
  memoryMiB: number;
}

export const DEFAULT_IDLE: IdleUsage = { cpuMillis: 1, memoryMiB: 1 };

export interface PodUsage {
  cpuMillis: number;
  memoryMiB: number;
}

/** The usage of each of `readyPods` pods under `rps`; undefined when no pod is ready to take it. */
export function usagePerPod(rps: number, readyPods: number, cost: RequestCost, idle: IdleUsage = DEFAULT_IDLE): PodUsage | undefined {
  if (readyPods <= 0) return undefined;
  const share = Math.max(0, rps) / readyPods;
  return { cpuMillis: idle.cpuMillis + share * cost.cpuMillis, memoryMiB: idle.memoryMiB + share * (cost.memoryMiB ?? 0) };
}

/** `u` moved by a random fraction within ±`jitter` (real traffic is never flat). */
export function jittered(u: PodUsage, jitter: number, random: () => number): PodUsage {
  if (jitter <= 0) return u;
  const f = () => 1 + (random() * 2 - 1) * jitter;
  return { cpuMillis: u.cpuMillis * f(), memoryMiB: u.memoryMiB * f() };
}

/** The pod annotations kwok reads the usage from (whole millicores and MiB, at least 1). */
export function usageAnnotations(u: PodUsage): Record<string, string> {
  return {
    [CPU_ANNOTATION]: `${Math.max(1, Math.round(u.cpuMillis))}m`,
    [MEMORY_ANNOTATION]: `${Math.max(1, Math.round(u.memoryMiB))}Mi`,
  };
}

/** A small seeded generator (mulberry32), so a run's jitter can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
