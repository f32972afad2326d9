import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';
import { ownerReference, standardLabels } from './labels.ts';

/** Metadata of a child: same name and namespace, standard labels, controller owner reference. */
export function childMetadata(md: ModelDeployment, annotations?: Record<string, string>): V1ObjectMeta {
  const meta: V1ObjectMeta = { name: md.metadata.name ?? '' };
  if (md.metadata.namespace !== undefined) meta.namespace = md.metadata.namespace;
  meta.labels = standardLabels(md);
  if (annotations !== undefined && Object.keys(annotations).length > 0) meta.annotations = { ...annotations };
  meta.ownerReferences = [ownerReference(md)];
  return meta;
}
