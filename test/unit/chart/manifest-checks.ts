// Pure checks on rendered chart manifests (the output of `helm template`, parsed). The unit tests run
// them on the golden renderings in golden/; the integration tests can run them on fresh helm output.
import type { V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

/** A parsed manifest: just enough shape to find objects by kind and name. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Parses multi-document YAML (helm template output), dropping empty documents. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`Invalid YAML in the rendered chart: ${d.errors[0]?.message ?? ''}`);
      return d.toJS() as unknown;
    })
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

export function ofKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

/** The one object of a kind; throws when there is none or more than one. */
export function onlyOfKind(manifests: readonly Manifest[], kind: string): Manifest {
  const found = ofKind(manifests, kind);
  if (found.length !== 1) throw new Error(`Expected one ${kind}, found ${found.length}.`);
  return found[0] as Manifest;
}

/**
 * Why a pod spec does not meet the "restricted" Pod Security Standard as the chart promises it:
 * non-root, read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp
 * RuntimeDefault, and none of the host namespaces or hostPath volumes.
 */
export function restrictedProblems(pod: V1PodSpec): string[] {
  const problems: string[] = [];
  const podCtx = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push('the pod uses a host namespace');
  for (const v of pod.volumes ?? []) if (v.hostPath) problems.push(`volume ${v.name} is a hostPath`);
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  for (const c of containers) {
    const ctx = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) problems.push(`${where} may run as root (runAsNonRoot is not true)`);
    if ((ctx.runAsUser ?? podCtx.runAsUser) === 0) problems.push(`${where} runs as user 0`);
    if (ctx.allowPrivilegeEscalation !== false) problems.push(`${where} allows privilege escalation`);
    if (ctx.privileged) problems.push(`${where} is privileged`);
    if (ctx.readOnlyRootFilesystem !== true) problems.push(`${where} has a writable root filesystem`);
    const drop = ctx.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) problems.push(`${where} does not drop ALL capabilities`);
    if ((ctx.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) problems.push(`${where} adds capabilities`);
    const seccomp = ctx.seccompProfile?.type ?? podCtx.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where} has no RuntimeDefault seccomp profile`);
  }
  return problems;
}

/** The operator container's args from the chart's Deployment. */
export function operatorArgs(deployment: Manifest): string[] {
  const container = (deployment as unknown as V1Deployment).spec?.template.spec?.containers.find((c) => c.name === 'operator');
  if (!container) throw new Error(`Deployment ${deployment.metadata.name} has no container named operator.`);
  return container.args ?? [];
}
