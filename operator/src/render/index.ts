// Pure rendering: ModelDeployment + operator config → the desired children, ready for
// server-side apply. No I/O. The input is what validateModelDeployment returned.
import type { V1Deployment, V1PodDisruptionBudget, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ValidModelDeployment } from '../api/validate.ts';
import type { RenderConfig } from './config.ts';
import { renderDeployment } from './deployment.ts';
import { renderHpa } from './hpa.ts';
import { renderPdb } from './pdb.ts';
import { renderService } from './service.ts';

export { defaultRenderConfig } from './config.ts';
export type { RenderConfig } from './config.ts';
export * from './labels.ts';
export { defaultTopologySpread } from './deployment.ts';
export { maxPossibleReplicas } from './pdb.ts';

export interface DesiredChildren {
  deployment: V1Deployment;
  service: V1Service;
  hpa?: V2HorizontalPodAutoscaler;
  pdb?: V1PodDisruptionBudget;
}

/** Renders what validateModelDeployment returned: it carries every default already. */
export function renderChildren(full: ValidModelDeployment, config: RenderConfig): DesiredChildren {
  const children: DesiredChildren = { deployment: renderDeployment(full, config), service: renderService(full) };
  const hpa = renderHpa(full);
  if (hpa !== undefined) children.hpa = hpa;
  const pdb = renderPdb(full);
  if (pdb !== undefined) children.pdb = pdb;
  return children;
}
