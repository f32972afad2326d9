// The autoscaling/v2 HorizontalPodAutoscaler, only when spec.autoscaling is set.
import type { V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';
import { childMetadata } from './metadata.ts';

function utilization(name: 'cpu' | 'memory', averageUtilization: number): V2MetricSpec {
  return { type: 'Resource', resource: { name, target: { type: 'Utilization', averageUtilization } } };
}

/** md must already carry its defaults (withDefaults). */
export function renderHpa(md: ModelDeployment): V2HorizontalPodAutoscaler | undefined {
  const a = md.spec.autoscaling;
  if (a === undefined) return undefined;
  const metrics: V2MetricSpec[] = [];
  if (a.targetCPUUtilizationPercentage !== undefined) metrics.push(utilization('cpu', a.targetCPUUtilizationPercentage));
  if (a.targetMemoryUtilizationPercentage !== undefined) metrics.push(utilization('memory', a.targetMemoryUtilizationPercentage));
  metrics.push(...(a.metrics ?? []));
  const hpa: V2HorizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(md),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: md.metadata.name ?? '' },
      minReplicas: a.minReplicas ?? 1,
      maxReplicas: a.maxReplicas,
      metrics,
    },
  };
  if (a.behavior !== undefined) hpa.spec!.behavior = a.behavior;
  return hpa;
}
