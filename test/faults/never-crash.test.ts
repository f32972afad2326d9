// The operator never crashes on what happens to the objects under it while it works: a
// ModelDeployment or its whole namespace deleted mid-reconcile, its CRD deleted and created again,
// and the permission for one kind taken away and given back. Reconciles are slowed down by added
// latency on every request (the fault proxy), so the deletions land in the middle of them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { kubeconfigFor } from '../cluster/cluster.ts';
import { OPERATOR_RULES } from '../unit/chart/rbac-rules.ts';
import { CRD_FILE, eventually, installCrd, kubectl, useNamespace } from '../integration/harness.ts';
import { startOperator, type OperatorProcess } from '../integration/operator.ts';
import { adminClient, API_VERSION, createFleet, faultyPath, fleetMd, waitConverged, type Md } from './support.ts';
import type { ApplyTarget } from '../../operator/src/kube/client.ts';

const LATENCY_MS = 150;
const CHILD_KINDS = ['deployments', 'services', 'horizontalpodautoscalers', 'poddisruptionbudgets'];

/** The operator neither exited nor logged an unhandled rejection. */
function assertAlive(op: OperatorProcess): void {
  assert.equal(op.child.exitCode, null, 'the operator is still running');
  assert.equal(op.child.signalCode, null, 'the operator is still running');
  const crashes = op.output().filter((l) => l.includes('Caught an unhandled rejection') || l.includes('"level":"error"'));
  assert.deepEqual(crashes, [], 'the operator logged no unhandled rejection or error');
}

/** An operator slowed by LATENCY_MS on every request, watching `namespaces`. */
async function slowOperator(t: TestContext, namespaces: string[]): Promise<OperatorProcess> {
  const path = await faultyPath(`fault-slow-${randomBytes(3).toString('hex')}`);
  t.after(() => path.close());
  path.proxy.set({ latencyMs: LATENCY_MS });
  const op = await startOperator({ name: 'never-crash', kubeconfig: path.kubeconfig, args: ['--leader-elect=false', `--watch-namespaces=${namespaces.join(',')}`] });
  t.after(() => op.stop('SIGKILL'));
  return op;
}

function childrenIn(ns: string): string[] {
  const out = kubectl(['get', CHILD_KINDS.join(','), '-n', ns, '-l', 'app.kubernetes.io/managed-by=modelship', '-o', 'name', '--ignore-not-found']);
  return out.split('\n').filter(Boolean);
}

describe('faults: the operator never crashes', () => {
  before(() => installCrd());

  it('on ModelDeployments deleted in the middle of their reconciles', async (t) => {
    const ns = useNamespace(t, 'nc');
    const op = await slowOperator(t, [ns]);
    const client = adminClient();
    const names = Array.from({ length: 10 }, (_, i) => `d-${i}`);
    await Promise.all(
      names.map(async (name, i) => {
        await client.apply(fleetMd(ns, name, i) as unknown as ApplyTarget, { fieldManager: 'fault-tests' });
        await sleep(Math.random() * 6 * LATENCY_MS);
        await client.delete({ apiVersion: API_VERSION, kind: 'ModelDeployment', namespace: ns, name });
      }),
    );
    // Whatever the operator wrote after a deletion belongs to a gone owner: the garbage collector
    // removes it, and the operator must not bring it back.
    await eventually('every child to be gone', () => childrenIn(ns).length === 0, 60_000, 500);
    await sleep(5000);
    assert.deepEqual(childrenIn(ns), [], 'no child came back');
    await createFleet(client, ns, ['after'], 'v1');
    await waitConverged(client, ns, new Map([['after', 'v1']]), 60_000);
    assertAlive(op);
  });

  it('on a namespace deleted in the middle of its reconciles', async (t) => {
    const keep = useNamespace(t, 'nc');
    const doomed = `nc-doomed-${randomBytes(3).toString('hex')}`;
    kubectl(['create', 'namespace', doomed]);
    t.after(() => kubectl(['delete', 'namespace', doomed, '--ignore-not-found', '--wait=false']));
    const op = await slowOperator(t, [keep, doomed]);
    const client = adminClient();
    await createFleet(client, doomed, Array.from({ length: 8 }, (_, i) => `n-${i}`), 'v1');
    await sleep(4 * LATENCY_MS);
    kubectl(['delete', 'namespace', doomed, '--wait=false']);
    // The operator must not hold the namespace up by writing into it while it terminates.
    await eventually(`namespace ${doomed} to be gone`, () => kubectl(['get', 'namespace', doomed, '--ignore-not-found', '-o', 'name']).trim() === '', 120_000, 1000);
    await createFleet(client, keep, ['still-works'], 'v1');
    await waitConverged(client, keep, new Map([['still-works', 'v1']]), 60_000);
    assertAlive(op);
  });

  it('on its CRD deleted and created again: it waits, then resumes', async (t) => {
    const ns = useNamespace(t, 'nc');
    const op = await startOperator({ name: 'crd-gone', args: ['--leader-elect=false', `--watch-namespaces=${ns}`] });
    t.after(() => op.stop('SIGKILL'));
    const client = adminClient();
    await createFleet(client, ns, ['before'], 'v1');
    await waitConverged(client, ns, new Map([['before', 'v1']]), 60_000);
    // Every ModelDeployment goes with the CRD; the garbage collector takes their children.
    kubectl(['delete', '-f', CRD_FILE, '--wait=true', '--timeout=120s']);
    await eventually('the ModelDeployment informer to fail its list', () => op.output().some((l) => /Failed to list|Watch failed/.test(l) && l.includes('"informer":"ModelDeployment"')), 60_000, 500);
    await sleep(3000);
    assert.equal(op.child.exitCode, null, 'the operator waits for its CRD instead of exiting');
    installCrd();
    await createFleet(client, ns, ['after'], 'v1');
    await waitConverged(client, ns, new Map([['after', 'v1']]), 90_000);
    assertAlive(op);
  });

  it('on the permission for one kind revoked at runtime: it says so on the status and in its log, and recovers when it returns', async (t) => {
    const ns = useNamespace(t, 'nc');
    const id = randomBytes(3).toString('hex');
    const user = `fault-rbac-${id}`;
    const [rest, pdbs] = [`fault-rbac-rest-${id}`, `fault-rbac-pdb-${id}`];
    const isPdbRule = (r: { resources: string[] }) => r.resources.includes('poddisruptionbudgets');
    const role = (name: string, rules: unknown[]) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules });
    const binding = (name: string) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    });
    const apply = (objs: unknown[]) => kubectl(['apply', '-f', '-'], { input: objs.map((o) => stringify(o)).join('---\n') });
    apply([role(rest, OPERATOR_RULES.filter((r) => !isPdbRule(r))), role(pdbs, OPERATOR_RULES.filter(isPdbRule)), binding(rest), binding(pdbs)]);
    t.after(() => kubectl(['delete', 'clusterrole,clusterrolebinding', rest, pdbs, '--ignore-not-found']));
    const op = await startOperator({ name: 'rbac', kubeconfig: kubeconfigFor(user, []), args: ['--leader-elect=false', `--watch-namespaces=${ns}`] });
    t.after(() => op.stop('SIGKILL'));
    const client = adminClient();
    const md = (minAvailable?: number): Md => {
      const m = fleetMd(ns, 'guarded', 0);
      m.spec.replicas = 2;
      if (minAvailable !== undefined) m.spec.availability = { minAvailable };
      return m;
    };
    await client.apply(md() as unknown as ApplyTarget, { fieldManager: 'fault-tests' });
    await waitConverged(client, ns, new Map([['guarded', 'v1']]), 60_000);

    kubectl(['delete', 'clusterrolebinding', pdbs]);
    // Revocation takes effect at once for new requests; a change that needs a PDB write meets it.
    await client.apply(md(1) as unknown as ApplyTarget, { fieldManager: 'fault-tests' });
    const refused = await eventually('the status to report the missing permission', async () => {
      const m = (await client.get<Md>({ apiVersion: API_VERSION, kind: 'ModelDeployment', namespace: ns, name: 'guarded' })) as Md;
      const ready = m.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.reason === 'ApplyRefused' && /poddisruptionbudgets/.test(ready.message) && /forbidden/i.test(ready.message) ? ready : undefined;
    }, 60_000, 500);
    assert.match(refused.message, /Grant the operator this permission/);
    assert.ok(op.output().some((l) => l.includes('"level":"warn"') && l.includes('poddisruptionbudgets') && /forbidden/i.test(l)), 'the log says which permission is missing');

    const restored = performance.now();
    apply([binding(pdbs)]);
    await waitConverged(client, ns, new Map([['guarded', 'v1']]), 90_000);
    const pdb = await client.get<{ spec?: { minAvailable?: number } } & Md>({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', namespace: ns, name: 'guarded' });
    assert.equal(pdb?.spec?.minAvailable, 1, 'the refused change was applied once the permission returned');
    t.diagnostic(`recovered ${((performance.now() - restored) / 1000).toFixed(1)} s after the permission returned (retried every 30 s)`);
    assert.equal(op.child.exitCode, null);
  });
});
