// What each kind of write costs the control plane: CPU of kube-apiserver, etcd and
// kube-controller-manager per request, for every write the operator makes for a new model and for
// the plain creates of the benchmark's floor. Not a test: it prints figures (docs/performance.md,
// "The cluster's CPU budget").
//
//   node test/bench/write-cost.ts [--count 300] [--rounds 3]
//
// Each batch sends `count` requests eight at a time on the test cluster (started if needed, with
// nothing else running), then waits until the API server is quiet again (what the controllers do
// in answer is part of the cost); the CPU the three processes used over the batch, less their rate
// at rest just before it, divided by `count`, is its cost. Medians over the rounds.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { Registry } from 'prom-client';
import { API_VERSION, KIND } from '../../operator/src/api/schema.ts';
import type { ModelDeployment, ModelDeploymentStatus } from '../../operator/src/api/types.ts';
import { validateModelDeployment } from '../../operator/src/api/validate.ts';
import { firstApply } from '../../operator/src/controller/rollout.ts';
import { FIELD_MANAGER, HttpKubeClient, PatchStrategy, type ApplyTarget } from '../../operator/src/kube/client.ts';
import { resourcePath } from '../../operator/src/kube/resources.ts';
import { newEvent } from '../../operator/src/kube/events.ts';
import { RestClient } from '../../operator/src/kube/rest.ts';
import { createMetrics } from '../../operator/src/observability/metrics.ts';
import { defaultRenderConfig, renderChildren } from '../../operator/src/render/index.ts';
import { clusterUp } from '../cluster/cluster.ts';
import { installCrd, kubectl } from '../integration/harness.ts';
import { cpuSeconds } from './proc.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '300' }, rounds: { type: 'string', default: '3' } } });
const N = Number(values.count);
const ROUNDS = Number(values.rounds);
const { state } = await clusterUp();
installCrd();
const rest = RestClient.forKubeconfig(state.kubeconfig, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
const client = new HttpKubeClient(rest);
const PROCESSES = ['kube-apiserver', 'etcd', 'kube-controller-manager'] as const;

/** CPU seconds of a cluster process. */
const cpu = (name: (typeof PROCESSES)[number]): number => cpuSeconds(state.pids[name]);

const ns = `write-cost-${Date.now().toString(36)}`;
kubectl(['create', 'namespace', ns]);

function md(name: string): ModelDeployment {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: ns },
    spec: { model: { uri: `s3://bench-models/${name}/v1`, format: 'sklearn' }, resources: { requests: { cpu: '100m', memory: '128Mi' } }, autoscaling: { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } },
  };
}

/** A status as the operator writes it: the first pass's (creating) or the Ready transition's. */
function status(name: string, ready: boolean): ModelDeploymentStatus {
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const cond = (type: string, s: 'True' | 'False', reason: string, message: string) => ({ type, status: s, reason, message, lastTransitionTime: at, observedGeneration: 1 });
  const uri = `s3://bench-models/${name}/v1`;
  return {
    observedGeneration: 1,
    url: `http://${name}.${ns}.svc.cluster.local`,
    selector: `app.kubernetes.io/instance=${name},app.kubernetes.io/name=model-server`,
    model: { uri, format: 'sklearn', runtime: 'mlserver', image: 'docker.io/seldonio/mlserver:1.6.1' },
    replicas: 1,
    readyReplicas: ready ? 1 : 0,
    availableReplicas: ready ? 1 : 0,
    updatedReplicas: 1,
    conditions: [
      ready ? cond('Ready', 'True', 'Ready', `Serving ${uri} with 1 ready replicas`) : cond('Ready', 'False', 'Progressing', 'Waiting for 1 ready replicas'),
      ready ? cond('Reconciling', 'False', 'Reconciled', 'The children match the spec') : cond('Reconciling', 'True', 'Progressing', 'Created Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget'),
      cond('Stalled', 'False', 'NotStalled', 'Reconciliation is making progress'),
      ready ? cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.') : cond('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
      cond('Progressing', 'True', ready ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', `ReplicaSet "${name}-5fff657b54" ${ready ? 'has successfully progressed' : 'is progressing'}.`),
    ],
    autoscaling: {
      currentReplicas: 1,
      desiredReplicas: ready ? 1 : 0,
      conditions: [
        { type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale', message: "the HPA controller was able to get the target's current scale" },
        { type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: 'the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API' },
      ],
    },
    revisions: [{ revision: '3305c97382', deployment: name, role: 'stable', replicas: 1, readyReplicas: ready ? 1 : 0, trafficPercent: 100, model: uri }],
    ...(ready ? { history: [{ revision: '3305c97382', deployment: name, replicaSet: `${name}-5fff657b54`, model: uri, servingSince: at }] } : {}),
  } as unknown as ModelDeploymentStatus;
}

/** The children the operator applies for a model (as the floor creates them), without an owner; Deployments of 0 replicas (no pods). */
function children(name: string): Array<ApplyTarget & { spec?: { replicas?: number } }> {
  const m = md(name);
  m.metadata.uid = '00000000-0000-0000-0000-000000000000';
  const valid = validateModelDeployment(m);
  if (!valid.ok) throw new Error(`invalid ModelDeployment: ${JSON.stringify(valid.errors)}`);
  const out = firstApply(valid.value, renderChildren(valid.value, defaultRenderConfig)) as unknown as Array<ApplyTarget & { spec?: { replicas?: number } }>;
  for (const c of out) {
    delete (c.metadata as { ownerReferences?: unknown }).ownerReferences;
    if (c.kind === 'Deployment' && c.spec) c.spec.replicas = 0;
  }
  return out;
}
const child = (name: string, kind: string) => children(name).find((c) => c.kind === kind) as ApplyTarget;

/** Returns once kube-apiserver used under 0.1 cores over a second (what the last batch set off is done), or after 60 s. */
async function quiet(): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const before = cpu('kube-apiserver');
    await sleep(1000);
    if (cpu('kube-apiserver') - before < 0.1) return;
  }
}

/** Sends op(0) to op(N - 1), eight at a time. */
async function eightAtATime(op: (i: number) => Promise<unknown>): Promise<void> {
  const q = new PQueue({ concurrency: 8 });
  for (let i = 0; i < N; i++) void q.add(() => op(i));
  await q.onIdle();
}

/**
 * CPU milliseconds per request of each process, for one batch and everything the controllers do
 * in answer (until the API server is quiet again), less what the process uses at rest (its rate
 * over the 3 s before the batch, times the batch's length).
 */
async function batch(op: (i: number) => Promise<unknown>): Promise<number[]> {
  await quiet();
  const rest0 = PROCESSES.map(cpu);
  const t0 = performance.now();
  await sleep(3000);
  const before = PROCESSES.map(cpu);
  const t1 = performance.now();
  await eightAtATime(op);
  await quiet();
  const t2 = performance.now();
  return PROCESSES.map((p, k) => {
    const atRest = (((before[k] as number) - (rest0[k] as number)) / (t1 - t0)) * (t2 - t1);
    return ((cpu(p) - (before[k] as number) - atRest) * 1000) / N;
  });
}

// The HPAs last: once they exist, the autoscaler's syncs of them load the cluster.
const KINDS = ['Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler'];
const rows = new Map<string, number[][]>();
for (let r = 0; r < ROUNDS; r++) {
  const name = (i: number) => `r${r}-m-${i}`;
  const record = async (what: string, op: (i: number) => Promise<unknown>) => {
    const got = await batch(op);
    rows.set(what, [...(rows.get(what) ?? []), got]);
    process.stderr.write(`  round ${r + 1}: ${what}: ${got.map((v) => v.toFixed(2)).join(' / ')} ms\n`);
  };
  const created: ModelDeployment[] = [];
  await record('ModelDeployment create (the user)', async (i) => created.push((await client.create(md(name(i)) as unknown as ApplyTarget)) as unknown as ModelDeployment));
  const statusOf = (i: number, ready: boolean) => ({ apiVersion: API_VERSION, kind: KIND, metadata: { name: name(i), namespace: ns }, status: status(name(i), ready) });
  await record('status apply, first pass', (i) => client.applyStatus(statusOf(i, false)));
  await record('status apply, Ready', (i) => client.applyStatus(statusOf(i, true)));
  // The same two statuses written as a JSON merge patch, and as an update (PUT), of /status, on
  // models of their own (their creates not counted).
  const statusPath = (model: string) => resourcePath(API_VERSION, KIND, ns, model, 'status');
  const forPut: ModelDeployment[] = [];
  await eightAtATime((i) => client.create(md(`p${name(i)}`) as unknown as ApplyTarget));
  await eightAtATime(async (i) => (forPut[i] = (await client.create(md(`u${name(i)}`) as unknown as ApplyTarget)) as unknown as ModelDeployment));
  const merge = (i: number, ready: boolean) => rest.request('PATCH', statusPath(`p${name(i)}`), { query: { fieldManager: FIELD_MANAGER }, body: { status: status(`p${name(i)}`, ready) }, contentType: PatchStrategy.MergePatch });
  await record('status merge patch, first pass', (i) => merge(i, false));
  await record('status merge patch, Ready', (i) => merge(i, true));
  const put = async (i: number, ready: boolean) => {
    const stored = forPut[i] as ModelDeployment;
    forPut[i] = await rest.request<ModelDeployment>('PUT', statusPath(`u${name(i)}`), { query: { fieldManager: FIELD_MANAGER }, body: { ...stored, status: status(`u${name(i)}`, ready) } });
  };
  await record('status update (PUT), first pass', (i) => put(i, false));
  await record('status update (PUT), Ready', (i) => put(i, true));
  await record('Event create', (i) => client.create(newEvent(created[i] as never, 'Normal', 'Created', 'Created Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget', Date.now(), i) as unknown as ApplyTarget));
  for (const kind of KINDS) {
    await record(`${kind}: server-side apply (operator)`, (i) => client.apply(child(`a${name(i)}`, kind)));
    await record(`${kind}: create (floor)`, (i) => client.create(child(`c${name(i)}`, kind)));
  }
  // The autoscaler syncs every HPA every 15 s: the next round must not pay for this one's.
  kubectl(['delete', 'horizontalpodautoscalers', '--all', '-n', ns]);
}
kubectl(['delete', 'namespace', ns, '--wait=false']);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(`\nCPU per request, ms (median of ${ROUNDS} rounds of ${N}, eight at a time, with what the controllers do in answer):`);
console.log(`  ${'write'.padEnd(50)} ${PROCESSES.map((p) => p.padStart(24)).join('')}`);
for (const [what, got] of rows) console.log(`  ${what.padEnd(50)} ${PROCESSES.map((_, k) => median(got.map((g) => g[k] as number)).toFixed(2).padStart(24)).join('')}`);
