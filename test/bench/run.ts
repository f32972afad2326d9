// `npm run bench [-- --count N --concurrency C]`: the operator on the real control plane, against
// the floor of a plain client creating the same children itself. Not a test: it prints figures.
//
// 1. Floor: a plain client creates the rendered children of N ModelDeployments directly (same
//    concurrency) and waits until every Deployment is Ready.
// 2. Operator: the operator runs as its own user; N ModelDeployments are applied and we wait until
//    every one is Ready. Then 30 s of steady state.
// Printed: time to all Ready (and the ratio to the floor), the operator's write calls per
// ModelDeployment and in steady state (from the apiserver audit log, by user), its peak RSS, and
// reconcile p50/p99 (from its controller_runtime_reconcile_time_seconds histogram).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import type { ModelDeployment, ModelDeploymentStatus } from '../../operator/src/api/types.ts';
import { HttpKubeClient, type ApplyTarget } from '../../operator/src/kube/client.ts';
import { RestClient } from '../../operator/src/kube/rest.ts';
import { createMetrics } from '../../operator/src/observability/metrics.ts';
import { defaultRenderConfig, renderChildren } from '../../operator/src/render/index.ts';
import { validateModelDeployment } from '../../operator/src/api/validate.ts';
import { Registry } from 'prom-client';
import { clusterUp } from '../cluster/cluster.ts';
import { auditEvents, auditOffset, installCrd, kubectl, repoRoot, WRITE_VERBS } from '../integration/harness.ts';
import { OPERATOR_USER, startOperator } from '../integration/operator.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: process.env.BENCH_COUNT ?? '200' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '8' },
    steady: { type: 'string', default: '30' },
    /** Write a V8 CPU profile of the operator (and a heap snapshot at the end of convergence) here. */
    profile: { type: 'string' },
  },
});
const N = Number(values.count);
const C = Number(values.concurrency);
const STEADY_S = Number(values.steady);

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

function mdFor(name: string, namespace: string, i: number): ModelDeployment {
  const spec: ModelDeployment['spec'] = {
    model: { uri: `s3://bench-models/${name}/v1`, format: i % 3 === 0 ? 'xgboost' : 'sklearn' },
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
  };
  // Half fixed-size, half autoscaled (which also brings a PDB): all four kinds of child.
  if (i % 2 === 0) spec.replicas = 1;
  else spec.autoscaling = { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70 };
  return { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec };
}

async function waitAll(what: string, count: () => Promise<number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const n = await count();
    if (n !== last) {
      process.stderr.write(`\r  ${what}: ${n}/${N}   `);
      last = n;
    }
    if (n >= N) break;
    if (Date.now() > deadline) throw new Error(`${what}: only ${n} of ${N} after ${timeoutMs / 1000} s`);
    // Listing a thousand objects four times a second would load the API server more than the operator does.
    await sleep(N > 200 ? 1000 : 250);
  }
  process.stderr.write('\n');
}

/** Estimates a quantile from a Prometheus histogram's cumulative buckets (as histogram_quantile does). */
function histogramQuantile(q: number, metrics: string, name: string): number | undefined {
  const buckets: [number, number][] = [];
  for (const line of metrics.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line);
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of buckets) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(c - prevCount, 1);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

function fmt(s: number): string {
  return `${s.toFixed(2)} s`;
}

const { state } = await clusterUp();
installCrd();
const rest = await RestClient.fromDefault({ kubeconfig: state.kubeconfig, metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
const client = new HttpKubeClient(rest);
const run = randomBytes(3).toString('hex');
const floorNs = `bench-floor-${run}`;
const opNs = `bench-operator-${run}`;
kubectl(['create', 'namespace', floorNs]);
kubectl(['create', 'namespace', opNs]);
say(`Benchmark: ${N} ModelDeployments, client concurrency ${C}, operator --concurrency ${C}, on Kubernetes ${state.server}`);

try {
  // 1. The floor.
  const floorStart = performance.now();
  const q = new PQueue({ concurrency: C });
  for (let i = 0; i < N; i++) {
    const m = mdFor(`m-${i}`, floorNs, i);
    m.metadata.uid = '00000000-0000-0000-0000-000000000000';
    const valid = validateModelDeployment(m);
    if (!valid.ok) throw new Error(`the benchmark's ModelDeployment is invalid: ${JSON.stringify(valid.errors)}`);
    for (const child of Object.values(renderChildren(valid.value, defaultRenderConfig))) {
      // No owner: the garbage collector would delete children of an owner that does not exist.
      delete (child as { metadata: { ownerReferences?: unknown } }).metadata.ownerReferences;
      void q.add(() => client.create(child as ApplyTarget));
    }
  }
  await q.onIdle();
  await waitAll('floor: Deployments ready', async () => {
    const list = await client.list<{ metadata: { generation?: number }; spec: { replicas?: number }; status?: { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number } }>('apps/v1', 'Deployment', { namespace: floorNs });
    return list.items.filter((d) => (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) && (d.status?.readyReplicas ?? 0) >= (d.spec.replicas ?? 1) && (d.status?.updatedReplicas ?? 0) >= (d.spec.replicas ?? 1)).length;
  }, 30 * 60_000);
  const floorS = (performance.now() - floorStart) / 1000;

  // 2. The operator.
  // Run what the container image runs: the compiled JavaScript, not the TypeScript sources.
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
  const profileDir = values.profile;
  const op = await startOperator({
    name: 'bench',
    entry: join(repoRoot, 'dist/main.js'),
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${profileDir}`] : [],
    args: ['--leader-elect=false', `--concurrency=${C}`],
    env: { MODELSHIP_LOG_LEVEL: 'info' },
  });
  /** CPU seconds the operator process has used (user + system), from /proc. */
  const cpuSeconds = (): number => {
    const f = readFileSync(`/proc/${op.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  try {
    const mark = auditOffset();
    const cpuIdle = cpuSeconds();
    const idleRssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.child.pid}/status`, 'utf8'))?.[1] ?? 0);
    const opStart = performance.now();
    const aq = new PQueue({ concurrency: C });
    for (let i = 0; i < N; i++) void aq.add(() => client.create(mdFor(`m-${i}`, opNs, i) as unknown as ApplyTarget));
    await aq.onIdle();
    await waitAll('operator: ModelDeployments Ready', async () => {
      const list = await client.list<{ metadata: { generation?: number }; status?: ModelDeploymentStatus }>('serving.modelship.dev/v1alpha1', 'ModelDeployment', { namespace: opNs });
      return list.items.filter((m) => m.status?.observedGeneration === m.metadata.generation && m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    }, 30 * 60_000);
    const opS = (performance.now() - opStart) / 1000;
    const cpuConverge = cpuSeconds() - cpuIdle;
    if (profileDir) op.child.kill('SIGUSR2');
    await sleep(2000);
    const converge = auditEvents(mark).filter((e) => e.user.username === OPERATOR_USER && WRITE_VERBS.has(e.verb));
    const steadyMark = auditOffset();
    say(`  steady state: watching the operator's writes for ${STEADY_S} s`);
    await sleep(STEADY_S * 1000);
    const steady = auditEvents(steadyMark).filter((e) => e.user.username === OPERATOR_USER && WRITE_VERBS.has(e.verb));
    const metrics = await op.metrics();
    const status = readFileSync(`/proc/${op.child.pid}/status`, 'utf8');
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    const p50 = histogramQuantile(0.5, metrics, 'controller_runtime_reconcile_time_seconds');
    const p99 = histogramQuantile(0.99, metrics, 'controller_runtime_reconcile_time_seconds');
    const byKind = new Map<string, number>();
    for (const e of converge) {
      const k = `${e.verb} ${e.objectRef?.resource ?? '?'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
      byKind.set(k, (byKind.get(k) ?? 0) + 1);
    }
    say('');
    say(`Results (${N} ModelDeployments, concurrency ${C}):`);
    say(`  floor, plain client creating the children:  ${fmt(floorS)} to all Deployments Ready`);
    say(`  operator, from the first apply:             ${fmt(opS)} to all ModelDeployments Ready`);
    say(`  ratio operator / floor:                     ${(opS / floorS).toFixed(2)}`);
    say(`  operator write calls:                       ${converge.length} (${(converge.length / N).toFixed(2)} per ModelDeployment)`);
    for (const [k, v] of [...byKind].sort((a, b) => b[1] - a[1])) say(`      ${k}: ${v}`);
    say(`  steady-state write calls over ${STEADY_S} s:        ${steady.length}`);
    const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? 0);
    say(`  operator peak RSS (VmHWM):                  ${(peakKb / 1024).toFixed(0)} MiB (heap in use at the end: ${(heapUsed / 1048576).toFixed(0)} MiB)`);
    say(`  operator RSS before the first apply:        ${(idleRssKb / 1024).toFixed(0)} MiB`);
    say(`  operator CPU while converging:              ${cpuConverge.toFixed(1)} s (${((cpuConverge * 1000) / N).toFixed(1)} ms per ModelDeployment)`);
    say(`  reconcile time p50 / p99 (from histogram):  ${p50 === undefined ? '?' : `${(p50 * 1000).toFixed(1)} ms`} / ${p99 === undefined ? '?' : `${(p99 * 1000).toFixed(1)} ms`}`);
  } finally {
    await op.stop();
  }
} finally {
  kubectl(['delete', 'namespace', floorNs, opNs, '--wait=false']);
}
