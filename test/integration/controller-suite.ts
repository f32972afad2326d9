// The controller's behaviour on the real control plane, one namespace per test. Defined as a
// function: the whole suite runs as the Helm chart's own ServiceAccount with exactly its RBAC and
// leader election on, as the chart runs it (chart-rbac.test.ts); its first scenario also runs as the
// operator's own user with leader election off, the identity the other integration tests use
// (controller.test.ts). Each scenario is also an exported function, so that the least-privilege
// proof can run one on its own and expect it to fail.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import {
  auditEvents,
  auditOffset,
  autoscalerSettled,
  type AuditEvent,
  type AuditMark,
  eventually,
  getJson,
  installCrd,
  kubectl,
  kubectlAsync,
  useNamespace,
  WRITE_VERBS,
} from './harness.ts';
import { startOperator, type OperatorProcess } from './operator.ts';

export interface SuiteOptions {
  title: string;
  /** The kubeconfig the operator runs with. */
  kubeconfig: () => string;
  /** The user name the API server sees for the operator (for the audit log). */
  username: () => string;
  args?: string[];
  /** The scenarios to run, in this order: all of SCENARIOS unless given. */
  scenarios?: readonly Scenario[];
  /** Filled with how long each scenario took, in ms, when it passed. */
  passedIn?: Map<Scenario['run'], number>;
}

/** What a scenario needs from the test that runs it. */
export interface ScenarioContext {
  /** A fresh namespace, deleted when the test ends. */
  namespace(): string;
  /** Runs when the test ends, whether the scenario passed or not. */
  after(fn: () => unknown): void;
  /** The user name the API server sees for the operator (for the audit log). */
  username: string;
  /** When set, no single wait lasts longer than this: for runs that are expected to fail. */
  deadlineMs?: number;
}

export function scenarioContext(t: TestContext, username: string, deadlineMs?: number): ScenarioContext {
  return {
    namespace: () => useNamespace(t, 'ctl'),
    after: (fn) => t.after(async () => {
      await fn();
    }),
    username,
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
  };
}

/** A wait of `ms`, cut to the context's deadline. */
function within(ctx: ScenarioContext, ms: number): number {
  return ctx.deadlineMs === undefined ? ms : Math.min(ms, ctx.deadlineMs);
}

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}
export interface MdObj {
  metadata: { name: string; generation: number; uid: string };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Cond[];
    model?: { uri?: string };
    replicas?: number;
    readyReplicas?: number;
    url?: string;
    autoscaling?: { currentReplicas?: number; desiredReplicas?: number; conditions?: { type: string; status: string; reason?: string }[] };
  };
}
interface Child {
  metadata: { name: string; uid: string; ownerReferences?: { uid: string; controller?: boolean; kind: string }[]; managedFields?: { manager: string; fieldsV1?: unknown }[] };
  spec: Record<string, unknown> & { replicas?: number; type?: string; template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: Record<string, unknown> & { readyReplicas?: number; updatedReplicas?: number; replicas?: number; availableReplicas?: number };
}

export function md(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'serving.modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name },
    spec: { model: { uri: `s3://models/${name}/v1`, format: 'sklearn' }, resources: { requests: { cpu: '100m', memory: '128Mi' } }, ...spec },
  };
}

export function applyMd(ns: string, obj: Record<string, unknown>): void {
  kubectl(['apply', '-n', ns, '-f', '-'], { input: stringify(obj) });
}

export function getMd(ns: string, name: string): MdObj {
  return getJson<MdObj>(['get', 'mdep', name, '-n', ns]);
}

export function cond(m: MdObj, type: string): Cond | undefined {
  return m.status?.conditions?.find((c) => c.type === type);
}

/** Ready=True for the current generation. */
export function isReady(m: MdObj): boolean {
  return m.status?.observedGeneration === m.metadata.generation && cond(m, 'Ready')?.status === 'True';
}

export async function waitReady(ns: string, name: string, timeoutMs = 90_000): Promise<MdObj> {
  return eventually(`${ns}/${name} to be Ready`, () => {
    const m = getMd(ns, name);
    return isReady(m) ? m : undefined;
  }, timeoutMs);
}

function child(kind: string, ns: string, name: string): Child | undefined {
  try {
    return getJson<Child>(['get', kind, name, '-n', ns]);
  } catch {
    return undefined;
  }
}

export function operatorWrites(username: string, from: AuditMark, filter: (e: AuditEvent) => boolean = () => true, to?: AuditMark): AuditEvent[] {
  return auditEvents(from, to).filter((e) => e.user.username === username && WRITE_VERBS.has(e.verb) && filter(e));
}

export async function createsChildrenAndTurnsReady(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  const mark = auditOffset();
  applyMd(ns, md('iris', { autoscaling: { minReplicas: 2, maxReplicas: 4, targetCPUUtilizationPercentage: 70 } }));
  await kubectlAsync(['wait', '--for=condition=Ready', `--timeout=${within(ctx, 90_000) / 1000}s`, '-n', ns, 'mdep/iris']);
  // One write per child: a new model's children are created once each, nothing read or sent twice.
  const childWrites = operatorWrites(ctx.username, mark, (e) => e.objectRef?.namespace === ns && ['deployments', 'services', 'horizontalpodautoscalers', 'poddisruptionbudgets'].includes(e.objectRef.resource ?? ''));
  assert.deepEqual(childWrites.map((e) => e.objectRef?.resource).sort(), ['deployments', 'horizontalpodautoscalers', 'poddisruptionbudgets', 'services']);
  const m = getMd(ns, 'iris');
  assert.equal(m.status?.observedGeneration, m.metadata.generation);
  for (const kind of ['deployment', 'service', 'hpa', 'pdb']) {
    const c = child(kind, ns, 'iris');
    assert.ok(c, `${kind} exists`);
    const owner = c.metadata.ownerReferences?.find((r) => r.controller);
    assert.equal(owner?.uid, m.metadata.uid, `${kind} is controlled by the ModelDeployment`);
    assert.equal(owner?.kind, 'ModelDeployment');
  }
  const pods = getJson<{ items: { status: { conditions?: { type: string; status: string }[] } }[] }>(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/instance=iris']).items;
  assert.equal(pods.length, 2);
  assert.ok(pods.every((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')));
  assert.equal(m.status?.readyReplicas, 2);
  assert.equal(m.status?.model?.uri, `s3://models/iris/v1`);
  assert.equal(m.status?.url, `http://iris.${ns}.svc.cluster.local`);
  const events = kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=ModelDeployment', '-o', 'jsonpath={.items[*].reason}']);
  assert.match(events, /Created/);
  // The status is atomic: the operator alone writes it, and the API server tracks it as one field.
  const managed = getJson<{ metadata: { managedFields?: { manager: string; subresource?: string; fieldsV1?: unknown }[] } }>(['get', 'mdep', 'iris', '-n', ns, '--show-managed-fields']).metadata.managedFields ?? [];
  assert.deepEqual(managed.filter((f) => f.subresource === 'status').map((f) => [f.manager, f.fieldsV1]), [['modelship', { 'f:status': {} }]]);
}

export async function rollsToNewModelUri(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  applyMd(ns, md('roll', { replicas: 2 }));
  await waitReady(ns, 'roll', within(ctx, 90_000));
  // Hold the new pods back: with every node cordoned they stay Pending.
  const nodes = kubectl(['get', 'nodes', '-o', 'name']).trim().split('\n');
  kubectl(['cordon', ...nodes]);
  ctx.after(() => kubectl(['uncordon', ...nodes]));
  applyMd(ns, md('roll', { replicas: 2, model: { uri: 's3://models/roll/v2', format: 'sklearn' } }));
  const rolling = await eventually('the Deployment to start rolling out v2', () => {
    const d = child('deployment', ns, 'roll');
    const m = getMd(ns, 'roll');
    return d?.spec.template?.metadata?.annotations?.['serving.modelship.dev/model-uri'] === 's3://models/roll/v2' && m.status?.observedGeneration === m.metadata.generation ? m : undefined;
  }, within(ctx, 60_000));
  await sleep(2000);
  const during = getMd(ns, 'roll');
  assert.equal(during.status?.model?.uri, 's3://models/roll/v1', 'the old model is still the one served');
  assert.equal(cond(during, 'Ready')?.status, 'False');
  assert.equal(cond(during, 'Reconciling')?.status, 'True');
  void rolling;
  kubectl(['uncordon', ...nodes]);
  const done = await waitReady(ns, 'roll', within(ctx, 90_000));
  assert.equal(done.status?.model?.uri, 's3://models/roll/v2');
  const d = child('deployment', ns, 'roll')!;
  assert.equal(d.status?.updatedReplicas, 2);
  assert.equal(d.status?.availableReplicas, 2);
}

export async function resizesWithKubectlScale(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  applyMd(ns, md('scaled', { replicas: 1 }));
  await waitReady(ns, 'scaled', within(ctx, 90_000));
  kubectl(['scale', '-n', ns, 'mdep/scaled', '--replicas=3']);
  await eventually('the Deployment to have 3 replicas', () => child('deployment', ns, 'scaled')?.spec.replicas === 3, within(ctx, 60_000));
  const m = await eventually('3 ready replicas on the status', () => {
    const x = getMd(ns, 'scaled');
    return isReady(x) && x.status?.readyReplicas === 3 ? x : undefined;
  }, within(ctx, 60_000));
  assert.equal(m.status?.replicas, 3);
}

export async function neverWritesReplicasUnderHpa(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  applyMd(ns, md('auto', { autoscaling: { minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 70 } }));
  await waitReady(ns, 'auto', within(ctx, 90_000));
  const mark = auditOffset();
  // The HPA scales up to its new minimum (the HPA controller writes deployments/scale).
  applyMd(ns, md('auto', { autoscaling: { minReplicas: 3, maxReplicas: 5, targetCPUUtilizationPercentage: 70 } }));
  await eventually('the HPA to scale the Deployment to 3', () => child('deployment', ns, 'auto')?.spec.replicas === 3, within(ctx, 90_000));
  // And a person scales by hand, within the HPA's bounds.
  kubectl(['scale', '-n', ns, 'deployment/auto', '--replicas=4']);
  await waitReady(ns, 'auto', within(ctx, 90_000));
  await sleep(3000);
  assert.equal(child('deployment', ns, 'auto')?.spec.replicas, 4, 'nobody reverted the manual scale');
  const events = auditEvents(mark).filter((e) => e.objectRef?.namespace === ns && e.objectRef.resource === 'deployments' && WRITE_VERBS.has(e.verb));
  const scaleWriters = new Set(events.filter((e) => e.objectRef?.subresource === 'scale').map((e) => e.user.username));
  assert.ok(scaleWriters.has('system:serviceaccount:kube-system:horizontal-pod-autoscaler'), `the HPA scaled: ${[...scaleWriters].join(', ')}`);
  const ours = events.filter((e) => e.user.username === ctx.username);
  assert.deepEqual(ours.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource ?? ''}`), [], 'the operator wrote nothing to the Deployment');
  const d = getJson<Child>(['get', 'deployment', 'auto', '-n', ns, '--show-managed-fields']);
  const mine = d.metadata.managedFields?.filter((f) => f.manager === 'modelship') ?? [];
  assert.ok(mine.length > 0);
  for (const f of mine) assert.ok(!JSON.stringify(f.fieldsV1).includes('"f:replicas"'), 'modelship owns no spec.replicas');
  const m = getMd(ns, 'auto');
  assert.equal(m.status?.autoscaling?.desiredReplicas !== undefined, true);
}

export async function repairsDrift(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  applyMd(ns, md('drift', { autoscaling: { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } }));
  await waitReady(ns, 'drift', within(ctx, 90_000));
  const port = (child('service', ns, 'drift')!.spec.ports as { port: number }[])[0]!.port;
  kubectl(['patch', 'service', 'drift', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { type: 'NodePort' } })]);
  kubectl(['patch', 'service', 'drift', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/ports/0/port', value: 8999 }])]);
  await eventually('the Service to be restored', () => {
    const s = child('service', ns, 'drift');
    return s?.spec.type === 'ClusterIP' && (s.spec.ports as { port: number }[])[0]?.port === port;
  }, within(ctx, 60_000));
  const old = child('hpa', ns, 'drift')!.metadata.uid;
  kubectl(['delete', 'hpa', 'drift', '-n', ns]);
  await eventually('the HPA to be recreated', () => {
    const h = child('hpa', ns, 'drift');
    return h !== undefined && h.metadata.uid !== old;
  }, within(ctx, 60_000));
}

export async function deletesHpaWhenAutoscalingIsRemoved(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  applyMd(ns, md('noauto', { autoscaling: { minReplicas: 2, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } }));
  await waitReady(ns, 'noauto', within(ctx, 90_000));
  assert.ok(child('hpa', ns, 'noauto'));
  applyMd(ns, md('noauto', { replicas: 2 }));
  await eventually('the HPA to be deleted', () => child('hpa', ns, 'noauto') === undefined, within(ctx, 60_000));
  await waitReady(ns, 'noauto', within(ctx, 90_000));
  assert.equal(child('deployment', ns, 'noauto')?.spec.replicas, 2);
}

export async function garbageCollectsChildren(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  applyMd(ns, md('gone', { autoscaling: { minReplicas: 2, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } }));
  await waitReady(ns, 'gone', within(ctx, 90_000));
  kubectl(['delete', 'mdep', 'gone', '-n', ns, '--wait=false']);
  await eventually('every child to be gone', () => {
    const left = kubectl(['get', 'deployments,replicasets,pods,services,hpa,pdb', '-n', ns, '-o', 'name']).trim();
    return left === '';
  }, within(ctx, 60_000));
}

export async function reportsInvalidSpec(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  // Passes the CRD schema; only the operator's runtime table knows vLLM serves HTTP only.
  applyMd(ns, md('bad', { model: { uri: 'hf://org/llm', format: 'llm' }, runtime: { protocol: 'grpc' } }));
  const bad = await eventually('InvalidSpec on the status', () => {
    const m = getMd(ns, 'bad');
    return cond(m, 'Ready')?.reason === 'InvalidSpec' ? m : undefined;
  }, within(ctx, 60_000));
  assert.equal(cond(bad, 'Stalled')?.status, 'True');
  assert.equal(bad.status?.observedGeneration, bad.metadata.generation);
  assert.match(cond(bad, 'Ready')?.message ?? '', /spec\.runtime\.protocol/);
  const ev = await eventually('the InvalidSpec Event', () => {
    const out = kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=bad,reason=InvalidSpec', '-o', 'jsonpath={.items[*].message}']);
    return out.includes('spec.runtime.protocol') ? out : undefined;
  }, within(ctx, 60_000));
  assert.ok(ev);
  assert.equal(child('deployment', ns, 'bad'), undefined);
  applyMd(ns, md('good', { replicas: 1 }));
  await waitReady(ns, 'good', within(ctx, 90_000));
}

export async function zeroWritesInSteadyState(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  const names = Array.from({ length: 20 }, (_, i) => `steady-${i}`);
  kubectl(['apply', '-n', ns, '-f', '-'], { input: names.map((n) => stringify(md(n, i(n)))).join('---\n') });
  for (const n of names) await waitReady(ns, n, within(ctx, 120_000));
  // An autoscaler's first metrics (about two metrics-server scrapes after its pods start) change
  // its reasons, which the status shows: the steady state begins once every one has read them.
  await eventually('every autoscaler to read metrics', () => names.every((n) => autoscalerSettled(getMd(ns, n))), within(ctx, 120_000), 1000);
  // Earlier tests' namespaces are still being deleted: let that finish so only this steady state is measured.
  await eventually('earlier test namespaces to be gone', () => !kubectl(['get', 'namespaces', '-o', 'jsonpath={.items[*].status.phase}']).includes('Terminating'), within(ctx, 120_000));
  await sleep(2000); // let the last status writes land
  const mark = auditOffset();
  await sleep(30_000);
  // Renewing the leader Lease (when leader election is on) is not a write to the objects it manages.
  const writes = operatorWrites(ctx.username, mark, (e) => e.objectRef?.resource !== 'leases', auditOffset());
  assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), []);
  function i(n: string): Record<string, unknown> {
    return Number(n.split('-')[1]) % 2 === 0 ? { replicas: 1 } : { autoscaling: { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } };
  }
}

export async function routesCanaryWeightsThroughHttpRoute(ctx: ScenarioContext): Promise<void> {
  const ns = ctx.namespace();
  kubectl(['apply', '-n', ns, '-f', '-'], {
    input: stringify({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'iris-route' },
      spec: { parentRefs: [{ name: 'public-gateway' }], rules: [{ backendRefs: [{ name: 'iris', port: 80 }] }] },
    }),
  });
  const rollout = (steps: unknown[]) => ({ strategy: 'Canary', canary: { steps, readyTimeout: '60s', trafficRouting: { httpRouteRef: { name: 'iris-route' } } } });
  applyMd(ns, md('routed', { replicas: 4, rollout: rollout([{ weight: 25 }]) }));
  await waitReady(ns, 'routed', within(ctx, 90_000));
  const weights = () => (getJson<{ spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } }>(['get', 'httproute', 'iris-route', '-n', ns]).spec.rules[0]?.backendRefs ?? []).map((b) => `${b.name}=${b.weight ?? 1}`);
  const stableName = await eventually('the route to send everything to the model', () => {
    const w = weights();
    return w.length === 1 && w[0]?.endsWith('=100') ? w[0].split('=')[0] : undefined;
  }, within(ctx, 60_000));
  applyMd(ns, md('routed', { replicas: 4, model: { uri: 's3://models/routed/v2', format: 'sklearn' }, rollout: rollout([{ weight: 25 }]) }));
  const split = await eventually('25% to the canary in the route', () => {
    const w = weights();
    return w.length === 2 && w[0] === `${stableName}=75` && w[1]?.endsWith('=25') ? w : undefined;
  }, within(ctx, 60_000));
  const m = getMd(ns, 'routed') as MdObj & { status?: { revisions?: { role: string; trafficPercent: number }[]; rollout?: { revision?: string } } };
  assert.deepEqual(m.status?.revisions?.map((r) => `${r.role}:${r.trafficPercent}`), ['stable:75', 'canary:25'], 'the status reports the route weights');
  kubectl(['annotate', 'mdep', 'routed', '-n', ns, `serving.modelship.dev/promote=${m.status?.rollout?.revision}`, '--overwrite']);
  const canaryName = (split[1] as string).split('=')[0];
  await eventually('the promoted canary to take the whole route', () => weights().join() === `${canaryName}=100`, within(ctx, 90_000));
  await waitReady(ns, 'routed', within(ctx, 90_000));
}

export interface Scenario {
  name: string;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Every scenario of the suite, in the order the suite runs them. */
export const SCENARIOS: readonly Scenario[] = [
  { name: 'creates the children with controller ownerReferences and turns Ready when the pods are', run: createsChildrenAndTurnsReady },
  { name: 'rolls to a new model.uri and shows the new model only once it is ready', run: rollsToNewModelUri },
  { name: 'resizes the Deployment with kubectl scale when autoscaling is off', run: resizesWithKubectlScale },
  { name: 'never writes spec.replicas when an HPA owns the size', run: neverWritesReplicasUnderHpa },
  { name: 'repairs drift: restores an edited Service and recreates a deleted HPA', run: repairsDrift },
  { name: 'deletes the HPA when autoscaling is removed', run: deletesHpaWhenAutoscalingIsRemoved },
  { name: 'garbage-collects every child when the ModelDeployment is deleted', run: garbageCollectsChildren },
  { name: 'reports an invalid spec as InvalidSpec with an Event, and still converges another one', run: reportsInvalidSpec },
  { name: 'routes a canary through the weights of an HTTPRoute (Gateway API), only to backends with ready pods', run: routesCanaryWeightsThroughHttpRoute },
  { name: 'makes zero write calls in a steady state of 20 converged ModelDeployments over 30 s', run: zeroWritesInSteadyState },
];

/** The operator's args: opts.args, with leader election off unless they set it. */
export function suiteArgs(args: readonly string[] = []): string[] {
  return args.some((a) => a === '--leader-elect' || a.startsWith('--leader-elect=')) ? [...args] : ['--leader-elect=false', ...args];
}

export function defineControllerSuite(opts: SuiteOptions): void {
  describe(opts.title, () => {
    let op: OperatorProcess;
    before(async () => {
      installCrd();
      op = await startOperator({ kubeconfig: opts.kubeconfig(), args: suiteArgs(opts.args) });
    });
    after(async () => {
      const code = await op.stop('SIGTERM');
      assert.equal(code, 0, 'the operator exits 0 on SIGTERM');
    });

    for (const scenario of opts.scenarios ?? SCENARIOS) {
      it(scenario.name, async (t) => {
        const start = performance.now();
        await scenario.run(scenarioContext(t, opts.username()));
        opts.passedIn?.set(scenario.run, performance.now() - start);
      });
    }
  });
}
