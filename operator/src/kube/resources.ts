// The resource types the operator touches, and their REST paths. A fixed table instead of
// discovery: the operator knows its kinds, and discovery would add requests on every start.

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', plural: 'modeldeployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
];

export function resourceType(apiVersion: string, kind: string): ResourceType {
  const t = RESOURCE_TYPES.find((r) => r.apiVersion === apiVersion && r.kind === kind);
  if (!t) {
    throw new Error(`The operator does not know the resource ${kind} in ${apiVersion}; add it to RESOURCE_TYPES in operator/src/kube/resources.ts.`);
  }
  return t;
}

/** "/api/v1" for the core group, "/apis/GROUP/VERSION" otherwise. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/**
 * The REST path of a collection (no name) or of one object, optionally a subresource.
 * A namespaced type without a namespace gives the all-namespaces collection.
 */
export function resourcePath(apiVersion: string, kind: string, namespace?: string, name?: string, subresource?: string): string {
  const t = resourceType(apiVersion, kind);
  let p = groupVersionPath(apiVersion);
  if (t.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  else if (t.namespaced && name) throw new Error(`${kind} ${name} needs a namespace.`);
  p += `/${t.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) {
    if (!name) throw new Error(`The ${subresource} subresource of ${kind} needs an object name.`);
    p += `/${subresource}`;
  }
  return p;
}
