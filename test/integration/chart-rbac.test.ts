// Least privilege, proven by running the operator as the Helm chart's own identity: the chart's
// ServiceAccount, ClusterRole and Lease Role are applied as rendered, the operator runs locally with a
// token for that ServiceAccount (TokenRequest API), and
// 1. the whole controller suite passes;
// 2. with any one rule removed, a named scenario fails and the API server refused the operator on
//    that rule's resource (audit log);
// 3. with watchNamespaces set, the operator works with Roles in its namespaces only, and ignores a
//    ModelDeployment elsewhere.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { onlyOfKind, operatorArgs, parseManifests, type Manifest } from '../unit/chart/manifest-checks.ts';
import { permissionKey, flattenRules, withoutRule, type PolicyRule } from '../unit/chart/rbac-rules.ts';
import {
  applyMd,
  createsChildrenAndTurnsReady,
  defineControllerSuite,
  deletesHpaWhenAutoscalingIsRemoved,
  getMd,
  md,
  repairsDrift,
  reportsInvalidSpec,
  resizesWithKubectlScale,
  routesCanaryWeightsThroughHttpRoute,
  SCENARIOS,
  scenarioContext,
  waitReady,
  type Scenario,
} from './controller-suite.ts';
import { auditEvents, auditOffset, bin, cluster, eventually, installCrd, kubectl, repoRoot, type AuditEvent } from './harness.ts';
import { startOperator, type OperatorProcess } from './operator.ts';
import { kstatusNow } from './kstatus.ts';

const CHART = join(repoRoot, 'charts/modelship');
const RELEASE = 'modelship';
const RELEASE_NS = `modelship-system-${randomBytes(3).toString('hex')}`;
/**
 * How long one wait of a scenario may take when the scenario is expected to fail: twice the fastest
 * time the whole scenario passed as the same ServiceAccount with every rule, earlier in this file,
 * and at least MIN_DEADLINE_MS; DEADLINE_MS when it has not run (the scenarios pass in 2 to 7 s;
 * twice that, for a loaded machine).
 */
const DEADLINE_MS = 14_000;
const MIN_DEADLINE_MS = 6_000;
/** How long the refusal may take to reach the audit log once the scenario has failed. */
const REFUSAL_WAIT_MS = 10_000;
const passedIn = new Map<Scenario['run'], number>();

function deadlineFor(scenario: Scenario): number {
  const passed = passedIn.get(scenario.run);
  return passed === undefined ? DEADLINE_MS : Math.round(Math.min(DEADLINE_MS, Math.max(MIN_DEADLINE_MS, 2 * passed)));
}

const workDir = mkdtempSync(join(tmpdir(), 'modelship-chart-rbac-'));

function helmTemplate(release: string, namespace: string, args: string[] = []): Manifest[] {
  const out = execFileSync(bin('helm'), ['template', release, CHART, '-n', namespace, ...args], {
    encoding: 'utf8',
    env: { ...process.env, HELM_CONFIG_HOME: join(workDir, 'helm'), HELM_CACHE_HOME: join(workDir, 'helm'), HELM_DATA_HOME: join(workDir, 'helm') },
  });
  return parseManifests(out);
}

/** The chart's identity and RBAC objects, without the operator Deployment (the operator runs here as a process). */
function identityObjects(manifests: Manifest[]): Manifest[] {
  return manifests.filter((m) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(m.kind));
}

function applyObjects(objs: Manifest[]): void {
  kubectl(['apply', '-f', '-'], { input: objs.map((o) => stringify(o)).join('---\n') });
}

function deleteObjects(objs: Manifest[]): void {
  kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: objs.map((o) => stringify(o)).join('---\n') });
}

/** A kubeconfig with a TokenRequest token for the ServiceAccount, and the cluster's server and CA. */
function serviceAccountKubeconfig(namespace: string, sa: string): string {
  const token = kubectl(['create', 'token', sa, '-n', namespace, '--duration=2h']).trim();
  const admin = parse(readFileSync(cluster().kubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, string> }[] };
  const clusterEntry = admin.clusters[0];
  assert.ok(clusterEntry, 'the admin kubeconfig names a cluster');
  const path = join(workDir, `${namespace}-${sa}.kubeconfig`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: clusterEntry.cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: 'test', user: sa, namespace } }],
      'current-context': sa,
    }),
    { mode: 0o600 },
  );
  return path;
}

/** The flag value the chart passes to the operator, e.g. flagValue(deployment, 'leader-election-id'). */
function flagValue(deployment: Manifest, flag: string): string {
  const arg = operatorArgs(deployment).find((a) => a.startsWith(`--${flag}=`));
  assert.ok(arg, `the chart passes --${flag}`);
  return arg.slice(flag.length + 3);
}

// The default rendering, in a release namespace of its own.
const rendered = helmTemplate(RELEASE, RELEASE_NS);
const identity = identityObjects(rendered);
const deployment = onlyOfKind(rendered, 'Deployment');
const saName = onlyOfKind(rendered, 'ServiceAccount').metadata.name;
const username = `system:serviceaccount:${RELEASE_NS}:${saName}`;
const leaseName = flagValue(deployment, 'leader-election-id');
const leaderArgs = ['--leader-elect=true', `--leader-election-namespace=${flagValue(deployment, 'leader-election-namespace')}`, `--leader-election-id=${leaseName}`];
let saKubeconfig = '';

before(() => {
  installCrd();
  kubectl(['create', 'namespace', RELEASE_NS]);
  applyObjects(identity);
  saKubeconfig = serviceAccountKubeconfig(RELEASE_NS, saName);
});

after(() => {
  deleteObjects(identity.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'));
  kubectl(['delete', 'namespace', RELEASE_NS, '--wait=false', '--ignore-not-found']);
  rmSync(workDir, { recursive: true, force: true });
});

describe('the chart identity', () => {
  it('is a ServiceAccount bound to one ClusterRole and to the Lease Role in the release namespace, with leader election on that Lease', () => {
    assert.deepEqual(identity.map((o) => `${o.kind} ${o.metadata.name}`).sort(), [
      `ClusterRole ${RELEASE}`,
      `ClusterRoleBinding ${RELEASE}`,
      `Role ${RELEASE}-leader-election`,
      `RoleBinding ${RELEASE}-leader-election`,
      `ServiceAccount ${saName}`,
    ]);
    assert.equal(flagValue(deployment, 'leader-election-namespace'), RELEASE_NS);
    // Every leader-election verb the operator uses is limited to this one Lease, except create.
    assert.ok(flattenRules(roleOf('Role').rules).some((p) => p.resourceName === leaseName));
  });

  it('authenticates with the TokenRequest token as the ServiceAccount, and may not read secrets', () => {
    const whoami = JSON.parse(kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: saKubeconfig })) as { status: { userInfo: { username: string } } };
    assert.equal(whoami.status.userInfo.username, username);
    assert.equal(canI(saKubeconfig, ['get', 'secrets', '--all-namespaces']), false);
    assert.equal(canI(saKubeconfig, ['list', 'modeldeployments.serving.modelship.dev', '--all-namespaces']), true);
  });
});

function canI(kubeconfig: string, args: string[]): boolean {
  try {
    return kubectl(['auth', 'can-i', ...args], { kubeconfig }).trim() === 'yes';
  } catch {
    return false;
  }
}

defineControllerSuite({
  title: 'controller (as the chart ServiceAccount)',
  kubeconfig: () => saKubeconfig,
  username: () => username,
  args: leaderArgs,
  passedIn,
});

interface RoleObject extends Manifest {
  rules: PolicyRule[];
}

function roleOf(kind: 'ClusterRole' | 'Role'): RoleObject {
  return onlyOfKind(identity, kind) as RoleObject;
}

/** The API resource a rule grants, as the audit log names it ("modeldeployments/status"). */
function auditResource(e: AuditEvent): string {
  return e.objectRef?.subresource ? `${e.objectRef.resource}/${e.objectRef.subresource}` : (e.objectRef?.resource ?? '');
}

/** Refused by the authorizer (a 403 can also mean a namespace being deleted). */
function forbiddenByRbac(e: AuditEvent): boolean {
  const annotations = (e as AuditEvent & { annotations?: Record<string, string> }).annotations ?? {};
  return e.responseStatus?.code === 403 && annotations['authorization.k8s.io/decision'] === 'forbid';
}

// The scenario that needs each rule, by the rule's resource. Every rule of the chart must be listed,
// or the proof below fails for that rule.
const NEEDED_BY: Record<string, Scenario['run']> = {
  'serving.modelship.dev/modeldeployments': createsChildrenAndTurnsReady,
  'serving.modelship.dev/modeldeployments/status': createsChildrenAndTurnsReady,
  'serving.modelship.dev/modeldeployments/finalizers': createsChildrenAndTurnsReady,
  'apps/replicasets': createsChildrenAndTurnsReady,
  '/pods': createsChildrenAndTurnsReady,
  'apps/deployments': resizesWithKubectlScale,
  '/services': repairsDrift,
  'autoscaling/horizontalpodautoscalers': deletesHpaWhenAutoscalingIsRemoved,
  'policy/poddisruptionbudgets': createsChildrenAndTurnsReady,
  '/events': reportsInvalidSpec,
  'gateway.networking.k8s.io/httproutes': routesCanaryWeightsThroughHttpRoute,
  'coordination.k8s.io/leases': createsChildrenAndTurnsReady,
};

function scenarioFor(rule: PolicyRule): Scenario {
  const key = `${rule.apiGroups[0]}/${rule.resources[0]}`;
  const run = NEEDED_BY[key];
  assert.ok(run, `no scenario is named for the rule on ${key}: add one to NEEDED_BY`);
  const scenario = SCENARIOS.find((s) => s.run === run);
  assert.ok(scenario);
  return scenario;
}

describe('every rule is needed: without it, a named scenario fails', () => {
  const variants = (['ClusterRole', 'Role'] as const).flatMap((kind) => roleOf(kind).rules.map((rule, index) => ({ kind, rule, index })));
  const proven: string[] = [];
  after(() => {
    // One line per rule, so the run's output names them.
    process.stdout.write(`# Least privilege, rule by rule:\n${proven.map((l) => `#   ${l}`).join('\n')}\n`);
  });

  // The control: with every rule, the scenario most rules need passes for an operator started
  // as each case below starts one. The suite's run of it came first in this file, when the API
  // server may still be deleting the namespaces of the file before (8 s against 2.5 in one run):
  // a deadline takes the faster of the two.
  const control = SCENARIOS.find((s) => s.run === createsChildrenAndTurnsReady);
  assert.ok(control);
  it(`with every rule, "${control.name}" passes for an operator started as each case below starts one`, async (t) => {
    const op = await startOperator({ name: 'operator-with-every-rule', kubeconfig: saKubeconfig, args: leaderArgs, waitReady: false });
    t.after(() => op.stop('SIGTERM'));
    const start = performance.now();
    await control.run(scenarioContext(t, username));
    const took = performance.now() - start;
    const suite = passedIn.get(control.run);
    passedIn.set(control.run, Math.min(took, suite ?? took));
    t.diagnostic(`passed in ${(took / 1000).toFixed(1)} s (in the suite: ${suite === undefined ? 'not run' : `${(suite / 1000).toFixed(1)} s`})`);
  });

  for (const { kind, rule, index } of variants) {
    const grants = flattenRules([rule]).map(permissionKey).join(', ');
    const scenario = scenarioFor(rule);
    it(`without the ${kind} rule [${grants}], "${scenario.name}" fails`, async (t) => {
      const full = roleOf(kind);
      kubectl(['replace', '-f', '-'], { input: stringify({ ...full, rules: withoutRule(full.rules, index) }) });
      t.after(() => kubectl(['replace', '-f', '-'], { input: stringify(full) }));
      // A Lease left by an earlier run would need no create.
      if (kind === 'Role') kubectl(['delete', 'lease', leaseName, '-n', RELEASE_NS, '--ignore-not-found']);
      const mark = auditOffset();
      const op: OperatorProcess = await startOperator({ name: `operator-without-${kind}-${index}`, kubeconfig: saKubeconfig, args: leaderArgs, waitReady: false });
      t.after(() => op.stop('SIGTERM'));

      let failure = '';
      const deadline = deadlineFor(scenario);
      await assert.rejects(scenario.run(scenarioContext(t, username, deadline)), (err: Error) => {
        failure = err.message.split('\n')[0] ?? '';
        return true;
      });
      // And it failed for this reason: the API server refused the operator on this rule's resource
      // (for the finalizers rule, OwnerReferencesPermissionEnforcement refused children that carry
      // blockOwnerDeletion, in the words of that admission plugin).
      const refused = await eventually(`the API server to refuse the operator on ${rule.resources.join(', ')} (the scenario failed with: ${failure})`, () => {
        const events = auditEvents(mark).filter((e) => e.user.username === username);
        const r = rule.resources.includes('modeldeployments/finalizers')
          ? events.filter((e) => e.responseStatus?.code === 403 && /cannot set blockOwnerDeletion/.test(e.responseStatus.message ?? ''))
          : events.filter((e) => forbiddenByRbac(e) && rule.resources.includes(auditResource(e)) && rule.apiGroups.includes(e.objectRef?.apiGroup ?? ''));
        return r.length > 0 && r;
      }, REFUSAL_WAIT_MS);
      const verbs = [...new Set(refused.map((e) => `${e.verb} ${auditResource(e)}`))].sort().join(', ');
      const passed = passedIn.get(scenario.run);
      const withRule = passed === undefined ? '' : `, passed in ${(passed / 1000).toFixed(1)} s with it`;
      proven.push(`${kind} [${grants}] removed → "${scenario.name}" failed, ${deadline / 1000} s per wait${withRule} (${failure.slice(0, 100)}); refused: ${verbs}`);
      t.diagnostic(`refused: ${verbs}; scenario failed within ${deadline / 1000} s per wait with: ${failure}`);
    });
  }
});

describe('namespace-scoped mode (watchNamespaces)', () => {
  const suffix = randomBytes(3).toString('hex');
  const scopedRelease = 'scoped';
  const scopedNs = `modelship-scoped-${suffix}`;
  const [a, b, c] = ['a', 'b', 'c'].map((x) => `scoped-${x}-${suffix}`) as [string, string, string];
  const objs = identityObjects(helmTemplate(scopedRelease, scopedNs, ['--set', `watchNamespaces={${a},${b}}`]));
  const sa = onlyOfKind(objs, 'ServiceAccount').metadata.name;
  const scopedUser = `system:serviceaccount:${scopedNs}:${sa}`;
  let kubeconfig = '';
  let op: OperatorProcess | undefined;

  before(() => {
    for (const ns of [scopedNs, a, b, c]) kubectl(['create', 'namespace', ns]);
    applyObjects(objs);
    kubeconfig = serviceAccountKubeconfig(scopedNs, sa);
  });
  after(async () => {
    await op?.stop('SIGTERM');
    for (const ns of [scopedNs, a, b, c]) kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  });

  it('renders a Role and RoleBinding per watched namespace, the Lease Role, and nothing cluster-wide', () => {
    assert.deepEqual(objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'), []);
    assert.deepEqual(objs.filter((o) => o.kind === 'Role').map((o) => o.metadata.namespace).sort(), [a, b, scopedNs].sort());
    assert.equal(canI(kubeconfig, ['list', 'modeldeployments.serving.modelship.dev', '--all-namespaces']), false);
    assert.equal(canI(kubeconfig, ['list', 'modeldeployments.serving.modelship.dev', '-n', a]), true);
    assert.equal(canI(kubeconfig, ['list', 'modeldeployments.serving.modelship.dev', '-n', c]), false);
    const bindings = JSON.parse(kubectl(['get', 'clusterrolebindings', '-o', 'json'])) as { items: { subjects?: { kind: string; name: string; namespace?: string }[] }[] };
    assert.ok(!bindings.items.some((rb) => rb.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === scopedNs)), 'no ClusterRoleBinding names the ServiceAccount');
  });

  it('reconciles ModelDeployments in its namespaces and ignores one elsewhere, with no cluster-wide request', async () => {
    const deployment = onlyOfKind(helmTemplate(scopedRelease, scopedNs, ['--set', `watchNamespaces={${a},${b}}`]), 'Deployment');
    assert.equal(flagValue(deployment, 'watch-namespaces'), `${a},${b}`);
    const mark = auditOffset();
    op = await startOperator({
      name: 'operator-scoped',
      kubeconfig,
      args: [`--watch-namespaces=${flagValue(deployment, 'watch-namespaces')}`, '--leader-elect=true', `--leader-election-namespace=${scopedNs}`, `--leader-election-id=${flagValue(deployment, 'leader-election-id')}`],
    });
    for (const ns of [a, b, c]) applyMd(ns, md('iris', { replicas: 1 }));
    await waitReady(a, 'iris', 60_000);
    await waitReady(b, 'iris', 60_000);
    // Long enough for the operator to have acted on C, had it seen it.
    await sleep(5000);
    const ignored = getMd(c, 'iris');
    assert.deepEqual(ignored.status, { observedGeneration: 0 }, 'the ModelDeployment outside the watched namespaces has only the CRD\'s default status');
    assert.equal(kstatusNow(c, 'iris').status, 'InProgress', 'which kstatus reads as not yet done');
    assert.equal(kubectl(['get', 'deployments,services,hpa,pdb', '-n', c, '-o', 'name']).trim(), '', 'and no children');
    const mine = auditEvents(mark).filter((e) => e.user.username === scopedUser && e.objectRef?.resource !== undefined);
    assert.ok(mine.length > 0);
    const outside = mine.filter((e) => ![a, b, scopedNs].includes(e.objectRef?.namespace ?? ''));
    assert.deepEqual(outside.map((e) => `${e.verb} ${e.requestURI}`), [], 'every request of the operator stays in its namespaces');
    const refused = mine.filter(forbiddenByRbac);
    assert.deepEqual(refused.map((e) => `${e.verb} ${e.requestURI}`), [], 'and none is refused');
  });
});
