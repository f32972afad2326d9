// Pure rendering: ModelDeployment + operator config → the desired children, ready for
// server-side apply. No I/O. The input should have passed validateModelDeployment.
import type { V1Deployment, V1PodDisruptionBudget, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { withDefaults } from '../api/defaults.ts';
import type { ModelDeployment } from '../api/types.ts';
import type { RenderConfig } from './config.ts';
import { renderDeployment } from './deployment.ts';
import { renderHpa } from './hpa.ts';
import { renderPdb } from './pdb.ts';
import { renderService } from './service.ts';

export { defaultRenderConfig } from './config.ts';
export type { RenderConfig } from './config.ts';
export * from './labels.ts';
export { defaultTopologySpread } from './deployment.ts';
export { parseModelUri, CREDENTIAL_ENV, FETCHER_CONTAINER, MODEL_VOLUME } from './model-source.ts';
export type { ModelSource } from './model-source.ts';
export { maxPossibleReplicas } from './pdb.ts';

export interface DesiredChildren {
  deployment: V1Deployment;
  service: V1Service;
  hpa?: V2HorizontalPodAutoscaler;
  pdb?: V1PodDisruptionBudget;
}

export function renderChildren(md: ModelDeployment, config: RenderConfig): DesiredChildren {
  const full = withDefaults(md);
  const children: DesiredChildren = { deployment: renderDeployment(full, config), service: renderService(full) };
  const hpa = renderHpa(full);
  if (hpa !== undefined) children.hpa = hpa;
  const pdb = renderPdb(full);
  if (pdb !== undefined) children.pdb = pdb;
  return children;
}
