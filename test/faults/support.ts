// What the fault scenarios share: a faulty path from the operator to the API server (toxiproxy, then
// the HTTP fault proxy), a fleet of ModelDeployments, the proofs (converged to the last change, no
// child duplicated, writes from the audit log) and the figures they print.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHILD_KINDS } from '../../operator/src/controller/reconcile.ts';
import { HttpKubeClient, type ApplyTarget } from '../../operator/src/kube/client.ts';
import type { KubeObject } from '../../operator/src/kube/types.ts';
import { stateDir } from '../cluster/cluster.ts';
import { clientCert, kubeconfigYaml } from '../cluster/pki.ts';
import { adminRest, auditEvents, autoscalerSettled, cluster, eventually, WRITE_VERBS, type AuditMark } from '../integration/harness.ts';
import type { OperatorProcess } from '../integration/operator.ts';
import { FaultProxy } from './fault-proxy.ts';
import { Toxiproxy } from './toxiproxy.ts';

const pkiDir = (): string => join(stateDir, 'pki');

/** The admin's client, for the test's own reads and writes (fast: no kubectl process each time). */
export function adminClient(): HttpKubeClient {
  return new HttpKubeClient(adminRest());
}

/** A kubeconfig for `user` (in system:masters) whose server is `server`. */
export function kubeconfigAt(server: string, user: string, file: string): string {
  const path = join(stateDir, file);
  writeFileSync(path, kubeconfigYaml(server, join(pkiDir(), 'ca.crt'), clientCert(pkiDir(), user, ['system:masters']), user));
  return path;
}

export interface FaultyPath {
  proxy: FaultProxy;
  toxi: Toxiproxy;
  /** The operator's kubeconfig: through toxiproxy, then the fault proxy, to the API server. */
  kubeconfig: string;
  close(): Promise<void>;
}

/**
 * operator → toxiproxy (TCP: latency, hangs, outages) → fault proxy (HTTP: status codes, watch
 * cuts and hangs) → kube-apiserver (`upstream`, the cluster's by default), as `user`.
 */
export async function faultyPath(user: string, upstream = cluster().server): Promise<FaultyPath> {
  const pki = pkiDir();
  const id = clientCert(pki, user, ['system:masters']);
  const proxy = await FaultProxy.start(upstream, {
    ca: join(pki, 'ca.crt'),
    serverCert: join(pki, 'apiserver.crt'),
    serverKey: join(pki, 'apiserver.key'),
    clientCert: id.cert,
    clientKey: id.key,
  });
  // A failed start leaves nothing listening: a server left open keeps the test file's process alive
  // after its last test (CI once waited 86 minutes on one).
  const toxi = await Toxiproxy.start(`127.0.0.1:${proxy.port}`).catch(async (err: unknown) => {
    await proxy.close();
    throw err;
  });
  const kubeconfig = kubeconfigAt(`https://127.0.0.1:${toxi.listenPort}`, user, `faulty-${user}.kubeconfig`);
  return {
    proxy,
    toxi,
    kubeconfig,
    close: async () => {
      await toxi.stop();
      await proxy.close();
    },
  };
}

export const API_VERSION = 'serving.modelship.dev/v1alpha1';

export interface Md extends KubeObject {
  spec: Record<string, unknown> & { model: { uri: string; format: string; version?: string } };
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    model?: { uri?: string; version?: string };
    readyReplicas?: number;
    autoscaling?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
  };
}

/** A ModelDeployment of the fleet: even ones fixed-size, odd ones autoscaled (so all four children). */
export function fleetMd(ns: string, name: string, i: number, version = 'v1'): Md {
  const spec: Md['spec'] = {
    model: { uri: `s3://fault-models/${name}`, format: i % 3 === 0 ? 'xgboost' : 'sklearn', version },
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
  };
  if (i % 2 === 0) spec.replicas = 1;
  else spec.autoscaling = { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70 };
  return { apiVersion: API_VERSION, kind: 'ModelDeployment', metadata: { name, namespace: ns }, spec };
}

/** Runs `fn` over `items`, `concurrency` at a time. */
export async function inParallel<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** Creates the fleet (admin, server-side apply), `concurrency` at a time. */
export async function createFleet(client: HttpKubeClient, ns: string, names: readonly string[], version = 'v1'): Promise<void> {
  await inParallel(names, 8, (name, i) => client.apply(fleetMd(ns, name, i, version) as unknown as ApplyTarget, { fieldManager: 'fault-tests' }));
}

/** Sets spec.model.version of one ModelDeployment (a merge patch as a person's edit would be). */
export function setVersion(client: HttpKubeClient, ns: string, name: string, version: string): Promise<unknown> {
  return client.mergePatch({ apiVersion: API_VERSION, kind: 'ModelDeployment', namespace: ns, name }, { spec: { model: { version } } });
}

export async function listMds(client: HttpKubeClient, ns: string): Promise<Md[]> {
  return (await client.list<Md>(API_VERSION, 'ModelDeployment', { namespace: ns })).items;
}

/** Waits until every autoscaled ModelDeployment's autoscaler has its first metrics (autoscalerSettled). */
export async function waitAutoscalersActive(client: HttpKubeClient, ns: string, timeoutMs = 120_000): Promise<void> {
  await eventually('every autoscaler to have its first metrics', async () => (await listMds(client, ns)).every(autoscalerSettled), timeoutMs, 1000);
}

/** Converged to the change: Ready for the current generation, serving the version asked for. */
export function convergedTo(m: Md, version: string | undefined): boolean {
  const ready = m.status?.conditions?.find((c) => c.type === 'Ready');
  return m.status?.observedGeneration === m.metadata?.generation && ready?.status === 'True' && (version === undefined || m.status?.model?.version === version);
}

/**
 * Waits until every ModelDeployment named in `want` has converged to its version; fails naming
 * those that did not, with their Ready condition. Returns the seconds it took.
 */
export async function waitConverged(client: HttpKubeClient, ns: string, want: ReadonlyMap<string, string>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let items: Md[] = [];
    try {
      items = await listMds(client, ns);
    } catch {
      // The API server may be restarting.
    }
    const byName = new Map(items.map((m) => [m.metadata?.name ?? '', m]));
    const behind = [...want].filter(([name, version]) => {
      const m = byName.get(name);
      return !m || !convergedTo(m, version);
    });
    if (behind.length === 0) return (performance.now() - start) / 1000;
    if (Date.now() > deadline) {
      const sample = await Promise.all(behind.slice(0, 5).map(async ([name, version]) => {
        const m = byName.get(name);
        const ready = m?.status?.conditions?.find((c) => c.type === 'Ready');
        // The Deployment as the API server has it, to tell a stale cache of the operator from a
        // cluster that has not finished.
        const d = await client.get<Owned & { metadata: { generation?: number }; status?: Record<string, unknown> }>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name }).catch(() => undefined);
        const live = d ? `; live Deployment: generation ${d.metadata.generation}, spec.replicas ${d.spec?.replicas}, status ${JSON.stringify({ ...d.status, conditions: undefined })}` : '';
        return `${name} (want ${version}, serves ${m?.status?.model?.version}, generation ${m?.metadata?.generation} observed ${m?.status?.observedGeneration}, Ready ${ready?.status} ${ready?.reason}: ${ready?.message}${live})`;
      }));
      throw new Error(`${behind.length} of ${want.size} ModelDeployments did not converge within ${timeoutMs / 1000} s: ${sample.join('; ')}`);
    }
    await sleep(want.size > 100 ? 1000 : 300);
  }
}

interface Owned extends KubeObject {
  spec?: { replicas?: number };
  status?: { replicas?: number };
}

/**
 * No child duplicated: each ModelDeployment controls exactly one Deployment and one Service of its
 * name, one HPA exactly when it autoscales, at most one PDB, and nothing else; no child of a kind
 * we make is left without a living controller; no Deployment runs more pods than it asks for.
 */
export async function assertNoDuplicates(client: HttpKubeClient, ns: string): Promise<{ children: number }> {
  const mds = await listMds(client, ns);
  const byUid = new Map(mds.map((m) => [m.metadata?.uid ?? '', m]));
  const problems: string[] = [];
  let children = 0;
  for (const [apiVersion, kind] of [['apps/v1', 'Deployment'], ['v1', 'Service'], ['autoscaling/v2', 'HorizontalPodAutoscaler'], ['policy/v1', 'PodDisruptionBudget']] as const) {
    const items = (await client.list<Owned>(apiVersion, kind, { namespace: ns })).items;
    children += items.length;
    const perOwner = new Map<string, string[]>();
    for (const o of items) {
      const owner = o.metadata?.ownerReferences?.find((r) => r.controller);
      if (!owner || !byUid.has(owner.uid)) {
        if (!o.metadata?.deletionTimestamp) problems.push(`${kind} ${o.metadata?.name} has no living ModelDeployment controller`);
        continue;
      }
      const list = perOwner.get(owner.uid) ?? [];
      list.push(o.metadata?.name ?? '');
      perOwner.set(owner.uid, list);
      if (kind === 'Deployment' && (o.status?.replicas ?? 0) > (o.spec?.replicas ?? 1)) {
        problems.push(`Deployment ${o.metadata?.name} runs ${o.status?.replicas} pods for ${o.spec?.replicas}`);
      }
    }
    for (const m of mds) {
      const names = perOwner.get(m.metadata?.uid ?? '') ?? [];
      const name = m.metadata?.name ?? '';
      const want = kind === 'Deployment' || kind === 'Service' ? 1 : kind === 'HorizontalPodAutoscaler' ? (m.spec.autoscaling ? 1 : 0) : names.length > 0 ? 1 : 0;
      if (names.length !== want || names.some((n) => n !== name)) problems.push(`${name} controls ${names.length} ${kind} (${names.join(', ')}), want ${want} named ${name}`);
    }
  }
  assert.deepEqual(problems.slice(0, 20), [], `children are not one of each per ModelDeployment (${problems.length} problems)`);
  return { children };
}

/** The operator's write calls in the audit log, by user, in [from, to). */
export function writesOf(user: string, from: AuditMark, to?: AuditMark): number {
  return auditEvents(from, to).filter((e) => e.user.username === user && WRITE_VERBS.has(e.verb)).length;
}

export interface Sample {
  atS: number;
  rssMiB: number;
  heapMiB: number;
  /** What V8 holds for the heap (used or not), and memory outside it (buffers): where RSS goes. */
  heapTotalMiB: number;
  externalMiB: number;
  timers: number;
  watches: number;
}

/** Peak RSS of a process (VmHWM), MiB. */
export function peakRssMiB(pid: number | undefined): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function metricSum(text: string, name: string, labelFilter = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labelFilter && !line.includes(labelFilter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** RSS (from /proc), heap in use, timers and open watches (from /metrics) of a running operator. */
export async function sample(op: OperatorProcess, startedAt: number): Promise<Sample> {
  const status = readFileSync(`/proc/${op.child.pid}/status`, 'utf8');
  const text = await op.metrics();
  return {
    atS: (performance.now() - startedAt) / 1000,
    rssMiB: Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024,
    heapMiB: metricSum(text, 'nodejs_heap_size_used_bytes') / 1048576,
    heapTotalMiB: metricSum(text, 'nodejs_heap_size_total_bytes') / 1048576,
    externalMiB: metricSum(text, 'nodejs_external_memory_bytes') / 1048576,
    timers: metricSum(text, 'nodejs_active_resources', 'type="Timeout"'),
    watches: metricSum(text, 'modelship_watches_open'),
  };
}

/**
 * The informers the operator always runs: ModelDeployments, ReplicaSets, pods, and two per child
 * kind (our labelled children, and the names of the unlabelled objects of that kind).
 */
export const INFORMERS = 3 + 2 * CHILD_KINDS.length;

/** Prints one line of figures, so a run's log holds the scenario table. */
export function figures(t: { diagnostic(msg: string): void }, scenario: string, fields: Record<string, string | number>): void {
  const line = `${scenario}: ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(2)) : v}`).join(' ')}`;
  t.diagnostic(line);
  process.stderr.write(`[figures] ${line}\n`);
}

/**
 * Spec changes and how long each took to converge: `change` sets a model's version and notes when;
 * `poll` lists the models and records, for every change still pending, the seconds until the model
 * served it. A change made on top of a pending one replaces it (only the last must converge).
 */
export class ChangeTracker {
  readonly pending = new Map<string, { version: string; at: number }>();
  readonly latest = new Map<string, string>();
  readonly latencies: number[] = [];
  private n = 0;
  private readonly client: HttpKubeClient;
  private readonly ns: string;

  constructor(client: HttpKubeClient, ns: string, initial: ReadonlyMap<string, string>) {
    this.client = client;
    this.ns = ns;
    for (const [k, v] of initial) this.latest.set(k, v);
  }

  async change(name: string): Promise<void> {
    const version = `c${++this.n}`;
    await setVersion(this.client, this.ns, name, version);
    this.pending.set(name, { version, at: performance.now() });
    this.latest.set(name, version);
  }

  async poll(): Promise<void> {
    if (this.pending.size === 0) return;
    let items: Md[];
    try {
      items = await listMds(this.client, this.ns);
    } catch {
      return;
    }
    const now = performance.now();
    for (const m of items) {
      const name = m.metadata?.name ?? '';
      const p = this.pending.get(name);
      if (p && convergedTo(m, p.version)) {
        this.latencies.push((now - p.at) / 1000);
        this.pending.delete(name);
      }
    }
  }

  /** Keeps changing random models every `everyMs` until `stop` resolves, polling in between. */
  async churn(names: readonly string[], everyMs: number, stop: Promise<unknown>): Promise<number> {
    let done = false;
    void stop.then(() => (done = true));
    let changes = 0;
    while (!done) {
      try {
        await this.change(names[Math.floor(Math.random() * names.length)] as string);
        changes++;
      } catch {
        // The API server may be down for a moment (scenario 5): the next change is the test.
      }
      await this.poll();
      await sleep(everyMs);
    }
    return changes;
  }

  /** Waits for every pending change, recording its latency. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) {
      await this.poll();
      await sleep(250);
    }
    await waitConverged(this.client, this.ns, this.latest, Math.max(1000, deadline - Date.now()));
  }
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** The test cluster's etcd, through its v3 JSON gateway: the current revision, and a compaction to it. */
export async function compactEtcd(): Promise<number> {
  const base = `http://127.0.0.1:${cluster().ports.etcdClient}`;
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    const text = await r.text();
    if (!r.ok) throw new Error(`etcd ${path}: ${r.status} ${text}`);
    return JSON.parse(text) as { header?: { revision?: string } };
  };
  const range = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  const revision = Number(range.header?.revision);
  if (!Number.isInteger(revision) || revision <= 0) throw new Error(`etcd answered no revision: ${JSON.stringify(range)}`);
  await post('/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}

/** A sample of a counter or gauge from the operator's /metrics, summed over the lines matching `labels`. */
export async function metricOf(op: OperatorProcess, name: string, labels = ''): Promise<number> {
  return metricSum(await op.metrics(), name, labels);
}
