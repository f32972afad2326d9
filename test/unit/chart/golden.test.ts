// Checks on the chart as helm rendered it. golden/*.yaml are `helm template` outputs, checked in;
// test/integration/chart.test.ts re-renders them and fails when they are stale. Render them with
// Helm 3 (Helm 4 adds a blank line after each document; the integration test compares its objects):
//   helm3 template modelship charts/modelship -n modelship-system --kube-version 1.30.0 [-f charts/modelship/ci/all-values.yaml]
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { crdObject } from '../../../operator/src/api/generate-crd.ts';
import { parseConfig } from '../../../operator/src/config.ts';
import { ofKind, onlyOfKind, operatorArgs, parseManifests, restrictedProblems } from './manifest-checks.ts';
import type { Manifest } from './manifest-checks.ts';
import { flattenRules, leaderElectionRules, OPERATOR_RULES, permissionKey, privilegeProblems, rolesIn } from './rbac-rules.ts';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const render = (name: string): Manifest[] => parseManifests(readFileSync(join(goldenDir, `${name}.yaml`), 'utf8'));
const byDefault = render('default');
const everything = render('all-values');

const podSpecOf = (m: Manifest): V1PodSpec => (m as unknown as V1Deployment).spec?.template.spec as V1PodSpec;
const keys = (rules: Parameters<typeof flattenRules>[0]): string[] => flattenRules(rules).map(permissionKey);

describe('the chart rendered with the default values', () => {
  const deployment = onlyOfKind(byDefault, 'Deployment');
  const pod = podSpecOf(deployment);
  const container = pod.containers[0];

  it('renders exactly the expected kinds', () => {
    assert.deepEqual(byDefault.map((m) => m.kind).sort(), [
      'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount',
    ]);
  });

  it('has the generated CRD as a template, so that helm upgrade upgrades it, kept on helm uninstall', () => {
    const crd = onlyOfKind(byDefault, 'CustomResourceDefinition') as Manifest & { spec: unknown };
    assert.deepEqual(crd.spec, (crdObject() as { spec: unknown }).spec);
    assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    assert.equal(crd.metadata.labels?.['app.kubernetes.io/component'], 'crd');
  });

  it('runs 2 replicas under the chart ServiceAccount', () => {
    assert.equal((deployment as unknown as V1Deployment).spec?.replicas, 2);
    assert.equal(pod.serviceAccountName, onlyOfKind(byDefault, 'ServiceAccount').metadata.name);
  });

  it('meets the restricted Pod Security Standard', () => {
    assert.deepEqual(restrictedProblems(pod), []);
  });

  it('probes /healthz and /readyz on port health (8081) and exposes metrics on 8080', () => {
    assert.deepEqual(container?.ports?.map((p) => [p.name, p.containerPort]), [['metrics', 8080], ['health', 8081]]);
    assert.deepEqual([container?.livenessProbe?.httpGet?.path, container?.livenessProbe?.httpGet?.port], ['/healthz', 'health']);
    assert.deepEqual([container?.readinessProbe?.httpGet?.path, container?.readinessProbe?.httpGet?.port], ['/readyz', 'health']);
  });

  it('has resources, a hostname topology spread, POD_NAMESPACE from the downward API, and a /tmp emptyDir', () => {
    assert.ok(container?.resources?.requests?.cpu && container.resources.limits?.memory);
    assert.equal(pod.topologySpreadConstraints?.[0]?.topologyKey, 'kubernetes.io/hostname');
    assert.equal(container?.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    const tmp = container?.volumeMounts?.find((v) => v.mountPath === '/tmp');
    assert.ok(tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir);
  });

  it('passes args the operator accepts: leader election on, in the release namespace, on a Lease named like the release', () => {
    const config = parseConfig(operatorArgs(deployment), {});
    assert.equal(config.leaderElect, true);
    assert.equal(config.leaderElectionNamespace, 'modelship-system');
    assert.equal(config.leaderElectionId, 'modelship');
    assert.deepEqual(config.watchNamespaces, []);
    assert.equal(config.logLevel, 'info');
  });

  it('grants the ClusterRole exactly the operator rules, and the Lease Role exactly its own Lease', () => {
    const roles = rolesIn(byDefault);
    const clusterRole = roles.find((r) => r.kind === 'ClusterRole');
    const leaseRole = roles.find((r) => r.kind === 'Role');
    assert.deepEqual(keys(clusterRole?.rules ?? []), keys(OPERATOR_RULES));
    assert.deepEqual(privilegeProblems(clusterRole?.rules ?? [], OPERATOR_RULES), []);
    assert.equal(leaseRole?.namespace, 'modelship-system');
    assert.deepEqual(keys(leaseRole?.rules ?? []), keys(leaderElectionRules('modelship')));
  });

  it('binds both roles to the ServiceAccount in the release namespace', () => {
    for (const binding of [...ofKind(byDefault, 'ClusterRoleBinding'), ...ofKind(byDefault, 'RoleBinding')]) {
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'modelship', namespace: 'modelship-system' }]);
    }
  });

  it('has a PDB with minAvailable 1 that selects the operator pods', () => {
    const pdb = onlyOfKind(byDefault, 'PodDisruptionBudget') as Manifest & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, (deployment as unknown as V1Deployment).spec?.selector.matchLabels);
  });

  it('puts the standard labels on every object', () => {
    for (const m of byDefault) {
      for (const label of ['helm.sh/chart', 'app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by']) {
        assert.ok(m.metadata.labels?.[label], `${m.kind} ${m.metadata.name} has no ${label} label`);
      }
    }
  });
});

describe('the chart rendered with ci/all-values.yaml', () => {
  const deployment = onlyOfKind(everything, 'Deployment');

  it('leaves the CRD to helm uninstall with crds.keep false', () => {
    const crd = onlyOfKind(everything, 'CustomResourceDefinition');
    assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], undefined);
  });

  it('grants the operator rules only in the watched namespaces, with no ClusterRole', () => {
    const roles = rolesIn(everything);
    assert.equal(roles.filter((r) => r.kind === 'ClusterRole').length, 0);
    assert.equal(ofKind(everything, 'ClusterRoleBinding').length, 0);
    const operatorRoles = roles.filter((r) => r.name === 'modelship-operator');
    assert.deepEqual(operatorRoles.map((r) => r.namespace), ['team-a', 'team-b']);
    for (const r of operatorRoles) assert.deepEqual(keys(r.rules), keys(OPERATOR_RULES));
    const bindings = ofKind(everything, 'RoleBinding').filter((b) => b.metadata.name === 'modelship-operator');
    assert.deepEqual(bindings.map((b) => b.metadata.namespace), ['team-a', 'team-b']);
  });

  it('passes every operator setting through to the args', () => {
    const config = parseConfig(operatorArgs(deployment), {});
    assert.deepEqual(config.watchNamespaces, ['team-a', 'team-b']);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.concurrency, 8);
    assert.deepEqual(Object.keys(config.runtimeImages).sort(), ['mlserver', 'triton', 'vllm']);
    assert.equal(config.fetcherImage, 'registry.example.com/platform/model-fetcher:0.1.0');
    assert.equal(config.clusterDomain, 'cluster.example');
    assert.equal(config.shutdownTimeoutSeconds, 20);
    assert.equal(config.watchInactivityTimeoutSeconds, 90);
    assert.equal(config.leaderElectionId, 'modelship-operator');
  });

  it('uses the digest for the image, and still meets the restricted standard', () => {
    const pod = podSpecOf(deployment);
    assert.match(pod.containers[0]?.image ?? '', /^registry\.example\.com:5000\/platform\/modelship@sha256:[0-9a-f]{64}$/);
    assert.deepEqual(restrictedProblems(pod), []);
  });

  it('adds the ServiceMonitor, the PrometheusRule with five alerts, and the dashboard ConfigMap', () => {
    const sm = onlyOfKind(everything, 'ServiceMonitor') as Manifest & { spec: { endpoints: { port: string }[] } };
    assert.equal(sm.spec.endpoints[0]?.port, 'metrics');
    const rule = onlyOfKind(everything, 'PrometheusRule') as Manifest & { spec: { groups: { rules: { alert: string; expr: string }[] }[] } };
    const alerts = rule.spec.groups.flatMap((g) => g.rules);
    assert.deepEqual(alerts.map((a) => a.alert), ['ModelshipReconcileErrors', 'ModelshipWorkQueueStalled', 'ModelshipReconcileStuck', 'ModelshipNoLeader', 'ModelshipLeaderLateWrites']);
    for (const a of alerts) assert.match(a.expr, /job="modelship-operator-metrics",namespace="modelship-system"/);
    const cm = onlyOfKind(everything, 'ConfigMap') as Manifest & { data: Record<string, string> };
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(cm.metadata.namespace, 'monitoring');
    const dashboard = JSON.parse(cm.data['modelship-operator.json'] ?? '') as { uid: string };
    assert.equal(dashboard.uid, 'modelship-operator');
  });
});

describe('manifest checks', () => {
  const base: V1PodSpec = {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } } }],
  };
  const cases: { name: string; change: (p: V1PodSpec) => void; problem: RegExp }[] = [
    { name: 'runAsNonRoot unset', change: (p) => { p.securityContext = { seccompProfile: { type: 'RuntimeDefault' } }; }, problem: /may run as root/ },
    { name: 'user 0', change: (p) => { p.securityContext = { ...p.securityContext, runAsUser: 0 }; }, problem: /runs as user 0/ },
    { name: 'privilege escalation', change: (p) => { p.containers[0]!.securityContext!.allowPrivilegeEscalation = true; }, problem: /privilege escalation/ },
    { name: 'writable root', change: (p) => { p.containers[0]!.securityContext!.readOnlyRootFilesystem = false; }, problem: /writable root/ },
    { name: 'capabilities kept', change: (p) => { p.containers[0]!.securityContext!.capabilities = { drop: ['NET_RAW'] }; }, problem: /drop ALL/ },
    { name: 'no seccomp', change: (p) => { p.securityContext = { runAsNonRoot: true }; }, problem: /seccomp/ },
    { name: 'hostNetwork', change: (p) => { p.hostNetwork = true; }, problem: /host namespace/ },
    { name: 'hostPath', change: (p) => { p.volumes = [{ name: 'h', hostPath: { path: '/' } }]; }, problem: /hostPath/ },
  ];
  it('restrictedProblems passes a restricted pod', () => {
    assert.deepEqual(restrictedProblems(base), []);
  });
  for (const c of cases) {
    it(`restrictedProblems catches ${c.name}`, () => {
      const pod = structuredClone(base);
      c.change(pod);
      assert.ok(restrictedProblems(pod).some((p) => c.problem.test(p)), JSON.stringify(restrictedProblems(pod)));
    });
  }
});
