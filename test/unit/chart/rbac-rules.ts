// The RBAC rules the chart must grant the operator, and nothing more, plus the helpers to compare
// them with what `helm template` renders and to drop one rule for the "every rule is needed" proof.
// The chart's templates/_rbac.tpl holds the same rules; test/unit/chart/rbac.test.ts keeps the two equal.

/** A rbac.authorization.k8s.io/v1 PolicyRule, as the chart writes it. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** One grant: a verb on a resource of an API group, optionally limited to one object name. */
export interface Permission {
  apiGroup: string;
  resource: string;
  verb: string;
  resourceName?: string;
}

// Children are read through informers, looked up once with get before the first create (an
// unlabelled object of that name is invisible to the informer), and written by server-side apply
// (create + patch), and deleted when no longer wanted: an HPA or a PDB when the spec stops asking
// for it, a Deployment when a canary is promoted or rolled back, a slot's Service with it.
const APPLIED_AND_DELETED = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/** The operator's rules: in the ClusterRole, or in the Role of each watched namespace. */
export const OPERATOR_RULES: readonly PolicyRule[] = [
  // Read only through the informer; the status is written by server-side apply on /status.
  { apiGroups: ['serving.modelship.dev'], resources: ['modeldeployments'], verbs: ['list', 'watch'] },
  { apiGroups: ['serving.modelship.dev'], resources: ['modeldeployments/status'], verbs: ['patch'] },
  // Children carry blockOwnerDeletion, which OwnerReferencesPermissionEnforcement allows only to
  // those who may update the owner's finalizers.
  { apiGroups: ['serving.modelship.dev'], resources: ['modeldeployments/finalizers'], verbs: ['update'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: APPLIED_AND_DELETED },
  { apiGroups: [''], resources: ['services'], verbs: APPLIED_AND_DELETED },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: APPLIED_AND_DELETED },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: APPLIED_AND_DELETED },
  // The diagnosis watches the ReplicaSets and pods of the models (label-filtered, never written); a
  // rollback of a rolling update reads the whole ReplicaSet whose template it restores (get).
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  // A canary with trafficRouting reads the person's HTTPRoute and patches its first rule's weights.
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'patch'] },
  // core/v1 Events only (operator/src/kube/events.ts), never events.k8s.io.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/**
 * The leader-election rules, in a Role in the release namespace. The Lease is named like the
 * release's full name (the chart passes it as --leader-election-id).
 */
export function leaderElectionRules(leaseName: string): PolicyRule[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
  ];
}

/** Every (apiGroup, resource, verb[, resourceName]) a list of rules grants, sorted and without duplicates. */
export function flattenRules(rules: readonly PolicyRule[]): Permission[] {
  const byKey = new Map<string, Permission>();
  for (const rule of rules) {
    const names = rule.resourceNames && rule.resourceNames.length > 0 ? rule.resourceNames : [undefined];
    for (const apiGroup of rule.apiGroups) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) {
          for (const resourceName of names) {
            const p: Permission = resourceName === undefined ? { apiGroup, resource, verb } : { apiGroup, resource, verb, resourceName };
            byKey.set(permissionKey(p), p);
          }
        }
      }
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
}

/** "verb group/resource[/name]", readable in a failed assertion; the core group shows as "core". */
export function permissionKey(p: Permission): string {
  const base = `${p.verb} ${p.apiGroup === '' ? 'core' : p.apiGroup}/${p.resource}`;
  return p.resourceName === undefined ? base : `${base}/${p.resourceName}`;
}

/** The rules with the one at `index` removed, for proving that each rule is needed. */
export function withoutRule(rules: readonly PolicyRule[], index: number): PolicyRule[] {
  if (!Number.isInteger(index) || index < 0 || index >= rules.length) {
    throw new RangeError(`Rule index ${index} is out of range: there are ${rules.length} rules.`);
  }
  return rules.filter((_, i) => i !== index);
}

/** Every single permission removed in turn: the rules without it, and which permission went. */
export function withoutEachPermission(rules: readonly PolicyRule[]): { removed: Permission; rules: PolicyRule[] }[] {
  const all = flattenRules(rules);
  return all.map((removed) => ({
    removed,
    rules: all
      .filter((p) => permissionKey(p) !== permissionKey(removed))
      .map((p) => ({
        apiGroups: [p.apiGroup],
        resources: [p.resource],
        verbs: [p.verb],
        ...(p.resourceName === undefined ? {} : { resourceNames: [p.resourceName] }),
      })),
  }));
}

/** Why a set of rules breaks least privilege: wildcards, secrets, or anything not expected. */
export function privilegeProblems(rules: readonly PolicyRule[], expected: readonly PolicyRule[]): string[] {
  const problems: string[] = [];
  for (const rule of rules) {
    for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames'] as const) {
      if ((rule[field] ?? []).some((v) => v.includes('*'))) problems.push(`A rule has a wildcard in ${field}: ${JSON.stringify(rule)}`);
    }
    if (rule.resources.some((r) => r === 'secrets' || r.startsWith('secrets/'))) problems.push(`A rule grants access to secrets: ${JSON.stringify(rule)}`);
  }
  const allowed = new Set(flattenRules(expected).map(permissionKey));
  for (const p of flattenRules(rules)) {
    if (!allowed.has(permissionKey(p))) problems.push(`A rule grants more than the operator needs: ${permissionKey(p)}`);
  }
  return problems;
}

/** A Role or ClusterRole found in rendered manifests. */
export interface RenderedRole {
  kind: 'Role' | 'ClusterRole';
  name: string;
  namespace: string | undefined;
  rules: PolicyRule[];
}

interface ManifestShape {
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  rules?: unknown;
}

/** The Roles and ClusterRoles among parsed manifests (for example yaml.parseAllDocuments of `helm template`). */
export function rolesIn(manifests: readonly unknown[]): RenderedRole[] {
  const roles: RenderedRole[] = [];
  for (const m of manifests) {
    if (m === null || typeof m !== 'object') continue;
    const doc = m as ManifestShape;
    if (doc.kind !== 'Role' && doc.kind !== 'ClusterRole') continue;
    const name = typeof doc.metadata?.name === 'string' ? doc.metadata.name : '';
    const namespace = typeof doc.metadata?.namespace === 'string' ? doc.metadata.namespace : undefined;
    roles.push({ kind: doc.kind, name, namespace, rules: Array.isArray(doc.rules) ? (doc.rules as PolicyRule[]) : [] });
  }
  return roles;
}
