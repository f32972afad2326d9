import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { defineBody, readChartFile, withoutComments } from './chart-files.ts';
import {
  flattenRules,
  leaderElectionRules,
  OPERATOR_RULES,
  permissionKey,
  privilegeProblems,
  rolesIn,
  withoutEachPermission,
  withoutRule,
} from './rbac-rules.ts';
import type { PolicyRule } from './rbac-rules.ts';

const RBAC_TEMPLATES = ['templates/_rbac.tpl', 'templates/rbac.yaml', 'templates/leader-election-rbac.yaml'];

function parsedRules(define: string): PolicyRule[] {
  // The only template expression in the rule bodies is the Lease name.
  const body = defineBody(readChartFile('templates/_rbac.tpl'), define).replace(
    /\{\{ include "modelship\.leaseName" \. \| quote \}\}/g,
    '"LEASE"',
  );
  assert.doesNotMatch(body, /\{\{/, `The body of ${define} must be plain YAML apart from the Lease name`);
  return parse(body) as PolicyRule[];
}

describe('chart RBAC templates', () => {
  it('grant the operator exactly the rules in rbac-rules.ts', () => {
    assert.deepEqual(flattenRules(parsedRules('modelship.operatorRules')).map(permissionKey), flattenRules(OPERATOR_RULES).map(permissionKey));
  });

  it('grant leader election exactly create, and get/update on its own Lease', () => {
    assert.deepEqual(flattenRules(parsedRules('modelship.leaderElectionRules')).map(permissionKey), flattenRules(leaderElectionRules('LEASE')).map(permissionKey));
  });

  for (const file of RBAC_TEMPLATES) {
    it(`${file} has no wildcard and no secrets`, () => {
      const text = withoutComments(readChartFile(file));
      assert.ok(!text.includes('*'), `${file} contains '*'`);
      assert.ok(!/secrets/i.test(text), `${file} mentions secrets`);
    });
  }

  it('write rules only through the two defines, so no rule hides elsewhere', () => {
    for (const file of ['templates/rbac.yaml', 'templates/leader-election-rbac.yaml']) {
      const lines = readChartFile(file).split('\n');
      const ruleLines = lines.flatMap((line, i) => (/^\s*rules:/.test(line) ? [i] : []));
      assert.ok(ruleLines.length > 0, `${file} has no rules`);
      for (const i of ruleLines) {
        assert.match(lines[i + 1] ?? '', /^\s*\{\{- include "modelship\.(operatorRules|leaderElectionRules)" \$? ?\.? ?\| nindent 2 \}\}$/, `${file}:${i + 2}`);
      }
    }
  });
});

describe('rbac-rules helpers', () => {
  it('flattenRules expands groups, resources, verbs and names and drops duplicates', () => {
    const rules: PolicyRule[] = [
      { apiGroups: ['', 'apps'], resources: ['a'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['a'], verbs: ['get'] },
      { apiGroups: ['x'], resources: ['leases'], verbs: ['get'], resourceNames: ['n1', 'n2'] },
    ];
    assert.deepEqual(flattenRules(rules).map(permissionKey), ['get apps/a', 'get core/a', 'get x/leases/n1', 'get x/leases/n2', 'list apps/a', 'list core/a']);
  });

  it('the expected operator rules amount to 37 permissions', () => {
    // 2 on modeldeployments, 1 on status, 1 on finalizers, 6 on each of the four kinds of child,
    // 3 on ReplicaSets, 2 on pods, 2 on HTTPRoutes, 2 on events.
    assert.equal(flattenRules(OPERATOR_RULES).length, 2 + 1 + 1 + 6 * 4 + 3 + 2 + 2 + 2);
  });

  it('withoutRule drops exactly one rule and refuses an index out of range', () => {
    const dropped = withoutRule(OPERATOR_RULES, 2);
    assert.equal(dropped.length, OPERATOR_RULES.length - 1);
    assert.ok(!dropped.includes(OPERATOR_RULES[2] as PolicyRule));
    assert.throws(() => withoutRule(OPERATOR_RULES, OPERATOR_RULES.length), /out of range/);
    assert.throws(() => withoutRule(OPERATOR_RULES, -1), /out of range/);
  });

  it('withoutEachPermission yields one variant per permission, each missing only that one', () => {
    const all = flattenRules(OPERATOR_RULES).map(permissionKey);
    const variants = withoutEachPermission(OPERATOR_RULES);
    assert.equal(variants.length, all.length);
    for (const v of variants) {
      const left = flattenRules(v.rules).map(permissionKey);
      assert.deepEqual(left, all.filter((k) => k !== permissionKey(v.removed)));
    }
  });

  const cases: { name: string; rules: PolicyRule[]; problems: RegExp[] }[] = [
    { name: 'the expected rules', rules: [...OPERATOR_RULES], problems: [] },
    { name: 'a subset', rules: [OPERATOR_RULES[0] as PolicyRule], problems: [] },
    { name: 'a wildcard verb', rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }], problems: [/wildcard in verbs/, /more than .* \* apps\/deployments/] },
    { name: 'a wildcard resource', rules: [{ apiGroups: [''], resources: ['*'], verbs: ['get'] }], problems: [/wildcard in resources/, /more than/] },
    { name: 'secrets', rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }], problems: [/secrets/, /get core\/secrets/] },
    { name: 'an extra verb', rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['update'] }], problems: [/more than the operator needs: update apps\/deployments/] },
    // Verbs an earlier chart granted that the operator never calls.
    { name: 'get on ModelDeployments (read only through the informer)', rules: [{ apiGroups: ['serving.modelship.dev'], resources: ['modeldeployments'], verbs: ['get'] }], problems: [/more than the operator needs: get serving\.modelship\.dev\/modeldeployments$/] },
    { name: 'update on the status (written by server-side apply)', rules: [{ apiGroups: ['serving.modelship.dev'], resources: ['modeldeployments/status'], verbs: ['update'] }], problems: [/more than the operator needs: update serving\.modelship\.dev\/modeldeployments\/status/] },
    { name: 'delete on ReplicaSets (never deleted: their Deployment owns them)', rules: [{ apiGroups: ['apps'], resources: ['replicasets'], verbs: ['delete'] }], problems: [/delete apps\/replicasets/] },
    { name: 'get on pods (watched through an informer only)', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], problems: [/get core\/pods/] },
    { name: 'writes to pods (never written)', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['delete', 'patch'] }], problems: [/delete core\/pods/, /patch core\/pods/] },
    { name: 'events.k8s.io Events (only core/v1 Events are written)', rules: [{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] }], problems: [/create events\.k8s\.io\/events/] },
  ];
  for (const c of cases) {
    it(`privilegeProblems on ${c.name}`, () => {
      const problems = privilegeProblems(c.rules, OPERATOR_RULES);
      assert.equal(problems.length, c.problems.length, problems.join('\n'));
      c.problems.forEach((re, i) => assert.match(problems[i] ?? '', re));
    });
  }

  it('rolesIn finds Roles and ClusterRoles among manifests', () => {
    const roles = rolesIn([
      { kind: 'ServiceAccount', metadata: { name: 'sa' } },
      { kind: 'ClusterRole', metadata: { name: 'cr' }, rules: [OPERATOR_RULES[0]] },
      null,
      { kind: 'Role', metadata: { name: 'r', namespace: 'ns' }, rules: [] },
    ]);
    assert.deepEqual(roles, [
      { kind: 'ClusterRole', name: 'cr', namespace: undefined, rules: [OPERATOR_RULES[0]] },
      { kind: 'Role', name: 'r', namespace: 'ns', rules: [] },
    ]);
  });
});
