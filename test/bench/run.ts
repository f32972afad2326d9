// `npm run bench [-- --count N --concurrency C ...]`: the operator on the real control plane, against
// the floor of a plain client creating the same children itself. Not a test: it prints figures,
// writes them as JSON with an SVG chart beside them, and exits non-zero only when the operator died
// (an out-of-memory kill under --memory-limit) or did not converge.
//
// 1. Floor: a plain client creates the children of N ModelDeployments directly (same concurrency)
//    and waits until every Deployment is Ready.
// 2. Operator: runs what the image runs (dist/main.js, the image's NODE_OPTIONS), as its own user,
//    optionally in a memory cgroup with the chart's limit; N ModelDeployments are applied and we
//    wait until every one is Ready. Then a steady state, then a restart with every model converged.
// Printed: time to all Ready and the ratio to the floor, the operator's CPU while converging (per
// model), RSS (idle, peak, over time), write calls per model and at rest (audit log, by user), the
// restart's cache sync time and its writes, and reconcile p50/p99.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { parse } from 'yaml';
import { Registry } from 'prom-client';
import type { ModelDeployment, ModelDeploymentStatus } from '../../operator/src/api/types.ts';
import { validateModelDeployment } from '../../operator/src/api/validate.ts';
import { firstApply } from '../../operator/src/controller/rollout.ts';
import { HttpKubeClient, type ApplyTarget } from '../../operator/src/kube/client.ts';
import { Informer } from '../../operator/src/kube/informer.ts';
import type { KubeObject } from '../../operator/src/kube/types.ts';
import { RestClient } from '../../operator/src/kube/rest.ts';
import { createMetrics } from '../../operator/src/observability/metrics.ts';
import { defaultRenderConfig, renderChildren } from '../../operator/src/render/index.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../operator/src/render/labels.ts';
import { clusterUp } from '../cluster/cluster.ts';
import { auditEvents, auditOffset, autoscalerSettled, bin, cluster, installCrd, kubectl, repoRoot, WRITE_VERBS } from '../integration/harness.ts';
import { OPERATOR_USER, startOperator, type OperatorProcess } from '../integration/operator.ts';
import { quantile } from '../faults/support.ts';
import { ALLOC_PROFILE_ENV, allocProfileFile, summarizeAllocations } from './alloc-profile.ts';
import { IMAGE_NODE_OPTIONS } from './image.ts';
import { cpuBetween, cpuOf, cpuSeconds, cpuTable } from './proc.ts';
import { renderSvg, renderTerminal, type Series } from './chart.ts';
import { updateReadme, type BenchResult } from './readme.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: process.env.BENCH_COUNT ?? '200' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '8' },
    steady: { type: 'string', default: '30' },
    /** Run the operator in a memory cgroup with this limit (e.g. 256Mi, or `chart`: the chart's default limit), as a container would. */
    'memory-limit': { type: 'string' },
    /** Replicas of every model (0: no pods, for a 10,000-model run in well under an hour). */
    replicas: { type: 'string' },
    /** Write a V8 CPU profile of the operator, and a heap snapshot at the end of convergence, here. */
    profile: { type: 'string' },
    /** Write an allocation profile of the operator here (test/bench/alloc-profile.ts) and print what allocated most. */
    'alloc-profile': { type: 'string' },
    /** Where the JSON results and the SVG chart go. */
    out: { type: 'string', default: join(repoRoot, 'bench-results') },
    /** The operator's NODE_OPTIONS, instead of the image's (to compare V8 settings in one place). */
    'node-options': { type: 'string' },
    /** Rewrite this run's row of the README's table (test/bench/readme.ts). */
    readme: { type: 'boolean', default: false },
    /** Another checkout whose compiled dist/main.js is measured instead (a before/after in one setup). */
    operator: { type: 'string' },
    /**
     * Write CPU profiles of kube-apiserver (Go pprof, `go tool pprof -top FILE`) here: the first
     * `--apiserver-profile-seconds` of the floor's convergence and of the operator's.
     */
    'apiserver-profile': { type: 'string' },
    'apiserver-profile-seconds': { type: 'string', default: '40' },
    /** Skip the floor (when only the operator's figures are wanted). */
    'no-floor': { type: 'boolean', default: false },
    /** Leave the operator's converged models in the cluster (to restart an operator over them again). */
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(values.count);
if (values['memory-limit'] === 'chart') values['memory-limit'] = chartMemoryLimit();
const C = Number(values.concurrency);
const STEADY_S = Number(values.steady);
/** The shortest interval a CPU rate is taken over (/proc counts CPU in ticks of 10 ms). */
const CPU_SAMPLE_MIN_S = 0.1;
const NODE_OPTIONS = values['node-options'] ?? IMAGE_NODE_OPTIONS;
const FIXED = values.replicas === undefined ? undefined : Number(values.replicas);

/**
 * Starts a CPU profile of kube-apiserver (its /debug/pprof) for the first seconds of a phase,
 * written to the --apiserver-profile directory; resolves when it is written.
 */
function profileApiserver(phase: string): Promise<void> {
  const dir = values['apiserver-profile'];
  if (!dir) return Promise.resolve();
  const file = join(dir, `kube-apiserver-${phase}.pprof`);
  return new Promise((resolve) => {
    execFile(bin('kubectl'), ['--kubeconfig', cluster().kubeconfig, 'get', '--raw', `/debug/pprof/profile?seconds=${values['apiserver-profile-seconds']}`], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err) say(`  kube-apiserver profile of ${phase} failed: ${err.message}`);
      else {
        writeFileSync(file, stdout);
        say(`  kube-apiserver profile of ${phase}: ${file}`);
      }
      resolve();
    });
  });
}

/** The machine, as the README's table names it: CPU model, cores, memory. */
function machine(): string {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown CPU';
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  return `${cpu}, ${availableParallelism()} cores, ${Math.round(memKiB / 1048576)} GiB, Linux ${release()}`;
}

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

function mdFor(name: string, namespace: string, i: number): ModelDeployment {
  const spec: ModelDeployment['spec'] = {
    model: { uri: `s3://bench-models/${name}/v1`, format: i % 3 === 0 ? 'xgboost' : 'sklearn' },
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
  };
  // Half fixed-size, half autoscaled (which also brings a PDB): all four kinds of child.
  if (FIXED !== undefined) spec.replicas = FIXED;
  else if (i % 2 === 0) spec.replicas = 1;
  else spec.autoscaling = { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70 };
  return { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec };
}

/** Every managed-by label (object, selector, pod template) says the floor made it, not the operator. */
function relabel(value: unknown): void {
  if (Array.isArray(value)) for (const v of value) relabel(v);
  else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) o[MANAGED_BY_LABEL] = 'modelship-bench-floor';
    for (const v of Object.values(o)) relabel(v);
  }
}

/**
 * The longest the operator's event loop was blocked since its metrics were last read (prom-client
 * resets its event-loop histogram at each read; nothing reads them before the benchmark does).
 */
function longestBlockMs(metrics: string): number {
  return Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN) * 1000;
}

/** Polls `count` (and samples the operator) until it reaches N; returns the series of (s, count). */
async function waitAll(what: string, count: () => Promise<number>, timeoutMs: number, sample?: (t: number) => void, intervalMs?: number): Promise<Array<[number, number]>> {
  const start = performance.now();
  const deadline = Date.now() + timeoutMs;
  const series: Array<[number, number]> = [];
  let last = -1;
  for (;;) {
    const n = await count();
    const t = (performance.now() - start) / 1000;
    series.push([t, n]);
    sample?.(t);
    if (n !== last) {
      process.stderr.write(`\r  ${what}: ${n}/${N}   `);
      last = n;
    }
    if (n >= N) break;
    if (Date.now() > deadline) throw new Error(`${what}: only ${n} of ${N} after ${timeoutMs / 1000} s`);
    // Listing a thousand objects four times a second would load the API server more than the
    // operator does: a list a second up to 1,000 objects, then one per N/1,000 seconds. A count
    // from a watch (watchedCount) costs nothing to ask.
    await sleep(intervalMs ?? (N > 200 ? Math.max(1000, N) : 250));
  }
  process.stderr.write('\n');
  return series;
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

function parseQuantityBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`--memory-limit ${q}: use a number with Ki, Mi or Gi`);
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1);
}

/** The memory limit the chart gives the operator by default (values.yaml resources.limits.memory). */
function chartMemoryLimit(): string {
  const chartValues = parse(readFileSync(join(repoRoot, 'charts', 'modelship', 'values.yaml'), 'utf8')) as { resources?: { limits?: { memory?: string } } };
  const limit = chartValues.resources?.limits?.memory;
  if (!limit) throw new Error('--memory-limit chart: charts/modelship/values.yaml sets no resources.limits.memory');
  return limit;
}

/** A memory cgroup (v1, as on this machine) for the operator, or undefined when none is asked for. */
function memoryCgroup(limit: string | undefined, run: string): { path: string; bytes: number } | undefined {
  if (limit === undefined) return undefined;
  const root = '/sys/fs/cgroup/memory';
  if (!existsSync(root)) throw new Error('--memory-limit needs the cgroup v1 memory controller at /sys/fs/cgroup/memory');
  const path = join(root, `modelship-bench-${run}`);
  mkdirSync(path);
  const bytes = parseQuantityBytes(limit);
  writeFileSync(join(path, 'memory.limit_in_bytes'), String(bytes));
  return { path, bytes };
}

function procStatus(pid: number | undefined, field: string): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Audit events counted by verb and resource, most first. */
function countBy(events: ReturnType<typeof auditEvents>): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const e of events) {
    const k = `${e.verb} ${e.objectRef?.resource ?? '?'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].sort((a, b) => b[1] - a[1]);
}

/**
 * Models whose autoscaler has its first metrics (the HPA's ScalingActive turns True once
 * metrics-server has scraped the new pods, 15-60 s after they are Ready, and the status records
 * that transition once). The steady state is measured after it.
 */
async function settledModels(client: HttpKubeClient, ns: string): Promise<number> {
  const list = await client.list<{ metadata: { name?: string }; spec: { autoscaling?: unknown }; status?: ModelDeploymentStatus }>('serving.modelship.dev/v1alpha1', 'ModelDeployment', { namespace: ns });
  return list.items.filter(autoscalerSettled).length;
}

/**
 * How many objects of a kind in a namespace are done, from a watch: both phases are observed this
 * way, since a LIST of 1,000 ModelDeployments costs kube-apiserver 163 ms of CPU (measured), and
 * one a second took about 14 core-seconds from a run of 90 s on two cores.
 */
async function watchedCount<T extends KubeObject>(rest: RestClient, apiVersion: string, kind: string, ns: string, done: (o: T) => boolean): Promise<{ count: () => Promise<number>; firstDone: Map<string, number>; stop: () => Promise<void> }> {
  const informer = new Informer<T>({ rest, apiVersion, kind, namespaces: [ns], metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
  const ready = new Set<string>();
  // When each object was first seen done (performance.now()), for the status lag.
  const firstDone = new Map<string, number>();
  const see = (o: T) => {
    const name = o.metadata?.name ?? '';
    if (!done(o)) return ready.delete(name);
    if (!firstDone.has(name)) firstDone.set(name, performance.now());
    return ready.add(name);
  };
  informer.on({ add: see, update: see, delete: (o) => ready.delete(o.metadata?.name ?? '') });
  informer.start();
  await informer.waitForSync();
  return { count: async () => ready.size, firstDone, stop: () => informer.stop() };
}

const deploymentReady = (d: KubeObject & { spec?: { replicas?: number }; status?: { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number } }) =>
  (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) && (d.status?.readyReplicas ?? 0) >= (d.spec?.replicas ?? 1) && (d.status?.updatedReplicas ?? 0) >= (d.spec?.replicas ?? 1);

const modelReady = (m: KubeObject & { status?: ModelDeploymentStatus }) =>
  m.status?.observedGeneration === m.metadata?.generation && m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

const { state } = await clusterUp();
if (values['apiserver-profile']) {
  if (state.commands['kube-apiserver'].args.includes('--profiling=false')) {
    throw new Error('--apiserver-profile needs a cluster started with MODELSHIP_APISERVER_PROFILING=1: node test/cluster/down.ts && MODELSHIP_APISERVER_PROFILING=1 node test/cluster/up.ts');
  }
  mkdirSync(values['apiserver-profile'], { recursive: true });
}
installCrd();
/** The control plane's processes (and the operator's, when given): the CPU each phase costs the machine. */
const clusterPids = (operatorPid?: number): Record<string, number> => {
  const pids: Record<string, number> = {};
  for (const [name, pid] of Object.entries(state.pids)) if (pid !== undefined) pids[name] = pid;
  if (operatorPid !== undefined) pids['the operator'] = operatorPid;
  return pids;
};
const rest = RestClient.forKubeconfig(state.kubeconfig, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
const client = new HttpKubeClient(rest);
const run = randomBytes(3).toString('hex');
const floorNs = `bench-floor-${run}`;
const opNs = `bench-operator-${run}`;
// A run's namespaces are deleted at its end, which takes minutes at 1,000 models: the next run
// waits until they are gone, or it would measure the garbage collector and the old objects in the
// operator's caches with it.
async function waitNamespacesGone(what: string): Promise<void> {
  for (let waited = 0; ; waited++) {
    const left = kubectl(['get', 'namespaces', '-o', 'name']).split('\n').filter((n) => n.startsWith('namespace/bench-'));
    if (left.length === 0) return;
    if (waited === 0) say(`Waiting for the namespaces of ${what} to be deleted: ${left.join(', ')}`);
    if (waited > 1200) throw new Error(`namespaces of ${what} are still there after 20 minutes: ${left.join(', ')}`);
    await sleep(1000);
  }
}
await waitNamespacesGone('an earlier run');
kubectl(['create', 'namespace', floorNs]);
const cgroup = memoryCgroup(values['memory-limit'], run);
say(`Benchmark: ${N} ModelDeployments${FIXED !== undefined ? ` of ${FIXED} replicas` : ''}, client concurrency ${C}, operator --concurrency ${C}${cgroup ? `, operator memory limit ${values['memory-limit']}` : ''}, NODE_OPTIONS="${NODE_OPTIONS}", on Kubernetes ${state.server}`);

const results: Record<string, unknown> = { count: N, concurrency: C, replicas: FIXED ?? 'half 1, half autoscaled', memoryLimit: values['memory-limit'] ?? null, when: new Date().toISOString(), nodeOptions: NODE_OPTIONS, ...(values.operator ? { operator: values.operator } : {}) };
let exitCode = 0;
let op: OperatorProcess | undefined;
try {
  // 1. The floor.
  let floorS = Number.NaN;
  let floorSeries: Array<[number, number]> = [];
  let floorCpu: Record<string, number> = {};
  if (!values['no-floor']) {
    const floorReady = await watchedCount(rest, 'apps/v1', 'Deployment', floorNs, deploymentReady);
    const floorStart = performance.now();
    const floorCpuAt = cpuOf(clusterPids());
    const floorProfile = profileApiserver('floor');
    const q = new PQueue({ concurrency: C });
    for (let i = 0; i < N; i++) {
      const m = mdFor(`m-${i}`, floorNs, i);
      m.metadata.uid = '00000000-0000-0000-0000-000000000000';
      const valid = validateModelDeployment(m);
      if (!valid.ok) throw new Error(`the benchmark's ModelDeployment is invalid: ${JSON.stringify(valid.errors)}`);
      for (const child of firstApply(valid.value, renderChildren(valid.value, defaultRenderConfig))) {
        // No owner: the garbage collector would delete children of an owner that does not exist.
        delete (child as { metadata: { ownerReferences?: unknown } }).metadata.ownerReferences;
        // Not ours either: the operator's label-filtered caches must not hold the floor's objects
        // while the operator is measured (in production, other workloads are not labelled as ours).
        relabel(child);
        void q.add(() => client.create(child as ApplyTarget));
      }
    }
    const created = q.onIdle();
    floorSeries = await waitAll('floor: Deployments ready', floorReady.count, 60 * 60_000, undefined, 250);
    floorCpu = cpuBetween(floorCpuAt, cpuOf(clusterPids()));
    await floorReady.stop();
    await created;
    floorS = (performance.now() - floorStart) / 1000;
    await floorProfile;
    // The floor's objects go before the operator is measured: their HPAs alone would double the
    // autoscaler's calls (a list of pods and a read of the scale per HPA every sync) while the
    // operator converges, and the floor had an empty cluster too.
    kubectl(['delete', 'namespace', floorNs, '--wait=false']);
    await waitNamespacesGone('the floor');
  }
  kubectl(['create', 'namespace', opNs]);

  // 2. The operator: what the container image runs (the compiled JavaScript, its NODE_OPTIONS).
  const operatorRoot = values.operator ?? repoRoot;
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(operatorRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
  const profileDir = values.profile;
  // The heap snapshot's directory must exist: Node exits on SIGUSR2 when it cannot write there.
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const allocDir = values['alloc-profile'];
  if (allocDir) mkdirSync(allocDir, { recursive: true });
  // The allocation profile is of the first process only: the restart measures its sync time unprofiled.
  const start = (profileAllocations = false) =>
    startOperator({
      name: 'bench',
      entry: join(operatorRoot, 'dist/main.js'),
      nodeArgs: [
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profileDir}`] : []),
        ...(allocDir && profileAllocations ? [`--import=${join(repoRoot, 'test/bench/alloc-profile.ts')}`] : []),
      ],
      ...(cgroup ? { cgroup: cgroup.path } : {}),
      args: ['--leader-elect=false', `--concurrency=${C}`],
      env: { MODELSHIP_LOG_LEVEL: 'info', NODE_OPTIONS, ...(allocDir && profileAllocations ? { [ALLOC_PROFILE_ENV]: allocDir } : {}) },
    });
  op = await start(true);
  const pid = op.child.pid;
  await sleep(2000);
  const idleRss = procStatus(pid, 'VmRSS');
  const mark = auditOffset();
  const cpuIdle = cpuSeconds(pid);
  const opReady = await watchedCount(rest, 'serving.modelship.dev/v1alpha1', 'ModelDeployment', opNs, modelReady);
  // The operator's Deployments too: how long a model's status says "not Ready" after its
  // Deployment is available (the status lag).
  const opDeploymentsReady = await watchedCount(rest, 'apps/v1', 'Deployment', opNs, deploymentReady);
  const opStart = performance.now();
  const opCpuAt = cpuOf(clusterPids(pid));
  const opProfile = profileApiserver('operator');
  const aq = new PQueue({ concurrency: C });
  for (let i = 0; i < N; i++) void aq.add(() => client.create(mdFor(`m-${i}`, opNs, i) as unknown as ApplyTarget));
  const rss: Array<[number, number]> = [];
  const cpu: Array<[number, number]> = [];
  let lastCpu = cpuIdle;
  let lastT = 0;
  const opSeries = await waitAll('operator: ModelDeployments Ready', opReady.count, 60 * 60_000, (t) => {
    rss.push([t, procStatus(pid, 'VmRSS')]);
    // A rate over a shorter interval is noise (one tick over the first sample's 0.2 ms read as 57
    // cores): such a sample waits for the next.
    if (t - lastT < CPU_SAMPLE_MIN_S) return;
    const c = cpuSeconds(pid);
    cpu.push([t, (c - lastCpu) / (t - lastT)]);
    lastCpu = c;
    lastT = t;
  }, 250);
  const opCpu = cpuBetween(opCpuAt, cpuOf(clusterPids(pid)));
  await opReady.stop();
  await opDeploymentsReady.stop();
  const lags = [...opReady.firstDone].map(([name, t]) => (t - (opDeploymentsReady.firstDone.get(name) ?? t)) / 1000);
  await aq.onIdle();
  const opS = (performance.now() - opStart) / 1000;
  await opProfile;
  const cpuConverge = cpuSeconds(pid) - cpuIdle;
  if (profileDir) op.child.kill('SIGUSR2');
  await sleep(2000);
  const converge = auditEvents(mark).filter((e) => e.user.username === OPERATOR_USER && WRITE_VERBS.has(e.verb));
  const settleStart = performance.now();
  await waitAll('operator: autoscalers with their first metrics', async () => {
    const child = op?.child;
    if (child?.exitCode !== null || child.signalCode !== null) throw new Error(`the operator exited (${child?.exitCode ?? child?.signalCode})`);
    return settledModels(client, opNs);
  }, 10 * 60_000);
  const settleS = (performance.now() - settleStart) / 1000;
  const settleWrites = auditEvents(mark).filter((e) => e.user.username === OPERATOR_USER && WRITE_VERBS.has(e.verb)).length - converge.length;
  const steadyMark = auditOffset();
  say(`  steady state: watching the operator's writes for ${STEADY_S} s`);
  await sleep(STEADY_S * 1000);
  const steady = auditEvents(steadyMark, auditOffset()).filter((e) => e.user.username === OPERATOR_USER && WRITE_VERBS.has(e.verb));
  const metrics = await op.metrics();
  const peakRss = procStatus(pid, 'VmHWM');
  const p50 = histogramQuantile(0.5, metrics, 'controller_runtime_reconcile_time_seconds');
  const p99 = histogramQuantile(0.99, metrics, 'controller_runtime_reconcile_time_seconds');
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? 0) / 1048576;
  const blockedMs = longestBlockMs(metrics);
  // Reconciles until now (converging, the autoscalers' first metrics and the steady state).
  const reconciles = [...metrics.matchAll(/^controller_runtime_reconcile_total\{[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const byKind = new Map(countBy(converge));
  const alive = op.child.exitCode === null && op.child.signalCode === null;
  await op.stop();
  // What the operator allocated from its start to its stop (converging, settling, the steady state).
  const allocations = allocDir && pid !== undefined ? summarizeAllocations(allocProfileFile(allocDir, pid)) : undefined;

  // 3. A restart with every model converged: how long until its caches are synced, and its writes.
  const restartMark = auditOffset();
  const restartStart = performance.now();
  op = await start();
  const syncedS = (performance.now() - restartStart) / 1000;
  const restartPeak = () => procStatus(op?.child.pid, 'VmHWM');
  await sleep(STEADY_S * 1000);
  const restartWrites = auditEvents(restartMark, auditOffset()).filter((e) => e.user.username === OPERATOR_USER && WRITE_VERBS.has(e.verb) && e.objectRef?.resource !== 'leases');
  const restartRss = restartPeak();
  const restartBlockedMs = longestBlockMs(await op.metrics());

  let oom = 'none';
  if (cgroup) {
    const failcnt = Number(readFileSync(join(cgroup.path, 'memory.failcnt'), 'utf8'));
    const maxUsage = Number(readFileSync(join(cgroup.path, 'memory.max_usage_in_bytes'), 'utf8')) / 1048576;
    oom = `${alive ? 'not killed' : 'KILLED'}; cgroup peak ${maxUsage.toFixed(0)} MiB of ${(cgroup.bytes / 1048576).toFixed(0)} MiB, ${failcnt} allocation failures`;
    if (!alive) exitCode = 1;
  }

  Object.assign(results, {
    floorSeconds: floorS,
    operatorSeconds: opS,
    ratio: opS / floorS,
    // Every process of the machine's cluster, from each phase's start to its last model Ready.
    cpuSecondsWhileConverging: { floor: floorCpu, operator: opCpu },
    operatorCpuSeconds: cpuConverge,
    cpuMsPerModel: (cpuConverge * 1000) / N,
    idleRssMiB: idleRss,
    peakRssMiB: peakRss,
    heapUsedMiB: heapUsed,
    writes: converge.length,
    writesPerModel: converge.length / N,
    writesByKind: Object.fromEntries(byKind),
    settleSeconds: settleS,
    settleWrites,
    steadyWrites: steady.length,
    restartSyncSeconds: syncedS,
    restartWrites: restartWrites.length,
    restartPeakRssMiB: restartRss,
    reconcilesPerModel: reconciles / N,
    longestEventLoopBlockMs: { converging: blockedMs, restart: restartBlockedMs },
    ...(allocations ? { allocatedMiB: allocations.totalBytes / 1048576, allocatedKiBPerModel: allocations.totalBytes / 1024 / N, topAllocations: allocations.top } : {}),
    statusLagSeconds: { p50: quantile(lags, 0.5), p90: quantile(lags, 0.9), max: quantile(lags, 1) },
    reconcileP50ms: p50 === undefined ? null : p50 * 1000,
    reconcileP99ms: p99 === undefined ? null : p99 * 1000,
    memoryLimit: values['memory-limit'] ?? null,
    oom,
    series: { floorReady: floorSeries, operatorReady: opSeries, operatorRssMiB: rss, operatorCpuCores: cpu },
  });

  say('');
  say(`Results (${N} ModelDeployments, concurrency ${C}):`);
  if (!values['no-floor']) say(`  floor, plain client creating the children:  ${fmt(floorS)} to all Deployments Ready`);
  say(`  operator, from the first apply:             ${fmt(opS)} to all ModelDeployments Ready`);
  if (!values['no-floor']) say(`  ratio operator / floor:                     ${(opS / floorS).toFixed(2)}`);
  if (!values['no-floor']) {
    say(`  the cluster's CPU, from each phase's start to its last model Ready (the ratio of work):`);
    for (const line of cpuTable(floorCpu, opCpu)) say(line);
  }
  say(`  operator CPU while converging:              ${cpuConverge.toFixed(1)} s (${((cpuConverge * 1000) / N).toFixed(1)} ms per ModelDeployment)`);
  say(`  operator RSS: idle ${idleRss.toFixed(0)} MiB, peak (VmHWM) ${peakRss.toFixed(0)} MiB, heap in use at the end ${heapUsed.toFixed(0)} MiB`);
  if (cgroup) say(`  memory limit ${values['memory-limit']}: ${oom}`);
  say(`  operator write calls:                       ${converge.length} (${(converge.length / N).toFixed(2)} per ModelDeployment)`);
  for (const [k, v] of byKind) say(`      ${k}: ${v}`);
  say(`  autoscalers' first metrics recorded:        ${fmt(settleS)} after all Ready, ${settleWrites} writes`);
  say(`  steady-state write calls over ${STEADY_S} s:        ${steady.length}`);
  for (const [k, v] of countBy(steady)) say(`      ${k}: ${v}`);
  say(`  restart with ${N} converged: caches synced (ready) in ${fmt(syncedS)}, ${restartWrites.length} writes in the ${STEADY_S} s after, peak RSS ${restartRss.toFixed(0)} MiB`);
  say(`  longest event-loop block (nodejs_eventloop_lag_max_seconds since start): converging ${blockedMs.toFixed(0)} ms, restart ${restartBlockedMs.toFixed(0)} ms`);
  say(`  reconciles, until the end of the steady state: ${reconciles} (${(reconciles / N).toFixed(2)} per ModelDeployment)`);
  if (allocations) {
    say(`  allocated, from start to stop (sampled):    ${(allocations.totalBytes / 1048576).toFixed(0)} MiB (${(allocations.totalBytes / 1024 / N).toFixed(0)} KiB per ModelDeployment); most, by where it was allocated:`);
    for (const { where, bytes } of allocations.top) say(`      ${(bytes / 1048576).toFixed(1).padStart(6)} MiB  ${where}`);
  }
  say(`  status lag, Deployment available → model Ready: p50 ${fmt(quantile(lags, 0.5))}, p90 ${fmt(quantile(lags, 0.9))}, max ${fmt(quantile(lags, 1))}`);
  say(`  reconcile time p50 / p99 (from histogram):  ${p50 === undefined ? '?' : `${(p50 * 1000).toFixed(1)} ms`} / ${p99 === undefined ? '?' : `${(p99 * 1000).toFixed(1)} ms`}`);

  const series: Series[] = [
    ...(values['no-floor'] ? [] : [{ name: 'floor: Deployments Ready', unit: 'models', points: floorSeries, axis: 'left' as const }]),
    { name: 'operator: ModelDeployments Ready', unit: 'models', points: opSeries, axis: 'left' },
    { name: 'operator RSS', unit: 'MiB', points: rss, axis: 'right' },
    { name: 'operator CPU', unit: 'cores', points: cpu, axis: 'right2' },
  ];
  say('');
  say(renderTerminal(series, 72, 14));
  mkdirSync(values.out as string, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonPath = join(values.out as string, `bench-${N}-${stamp}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(jsonPath.replace(/\.json$/, '.svg'), renderSvg(series, `${N} ModelDeployments: models Ready over time, and the operator's RSS and CPU`));
  say(`  results: ${jsonPath} (and .svg)`);
  if (values.readme && values.operator) say('  README.md: not rewritten (--operator measures another checkout)');
  else if (values.readme) {
    const readmePath = join(repoRoot, 'README.md');
    writeFileSync(readmePath, updateReadme(readFileSync(readmePath, 'utf8'), results as unknown as BenchResult, machine()));
    say(`  README.md: the row for ${N} models rewritten`);
  }
} catch (err) {
  exitCode = 1;
  say(`Benchmark failed: ${(err as Error).stack ?? String(err)}`);
  if (op) say(op.output().slice(-20).join('\n'));
} finally {
  await op?.stop().catch(() => undefined);
  kubectl(['delete', 'namespace', floorNs, ...(values.keep && exitCode === 0 ? [] : [opNs]), '--wait=false', '--ignore-not-found']);
  if (values.keep && exitCode === 0) say(`  kept: ${N} converged ModelDeployments in namespace ${opNs}`);
  if (cgroup) {
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(cgroup.path);
        break;
      } catch {
        await sleep(250);
      }
    }
  }
}
process.exit(exitCode);
