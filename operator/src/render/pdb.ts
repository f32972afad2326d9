// The policy/v1 PodDisruptionBudget: the user's, or maxUnavailable 1 whenever more than one
// replica can run (one replica with a budget would block every node drain).
import type { V1PodDisruptionBudget, V1PodDisruptionBudgetSpec } from '@kubernetes/client-node';
import { DEFAULT_PDB_MAX_UNAVAILABLE } from '../api/defaults.ts';
import type { ModelDeployment } from '../api/types.ts';
import { selectorLabels } from './labels.ts';
import { childMetadata } from './metadata.ts';

/** The most replicas this ModelDeployment can run. */
export function maxPossibleReplicas(md: ModelDeployment): number {
  return md.spec.autoscaling !== undefined ? md.spec.autoscaling.maxReplicas : (md.spec.replicas ?? 1);
}

export function renderPdb(md: ModelDeployment): V1PodDisruptionBudget | undefined {
  const av = md.spec.availability;
  if (av?.enabled === false) return undefined;
  const spec: V1PodDisruptionBudgetSpec = { selector: { matchLabels: selectorLabels(md) } };
  if (av?.minAvailable !== undefined) spec.minAvailable = av.minAvailable;
  else if (av?.maxUnavailable !== undefined) spec.maxUnavailable = av.maxUnavailable;
  else if (maxPossibleReplicas(md) > 1) spec.maxUnavailable = DEFAULT_PDB_MAX_UNAVAILABLE;
  else return undefined;
  // Lets a drain evict pods that never became ready (a model that fails to load).
  spec.unhealthyPodEvictionPolicy = 'AlwaysAllow';
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: childMetadata(md), spec };
}
