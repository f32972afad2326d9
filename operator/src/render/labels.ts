// Labels, annotations and the owner reference every child carries.
import type { V1OwnerReference, V1PodTemplateSpec } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/types.ts';
import type { ModelDeployment, ServedModel } from '../api/types.ts';
import type { RenderConfig } from './config.ts';
import { compareStrings } from '../order.ts';

export const NAME_LABEL = 'app.kubernetes.io/name';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'modelship';
/** Label selector for everything the operator manages, for informers. */
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
/** Every object not labelled as ours (including those without the label). */
export const NOT_MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}!=${MANAGED_BY_VALUE}`;
export const APP_NAME = 'model-server';
export const MODEL_VERSION_LABEL = 'serving.modelship.dev/model-version';

// On the pod template, so a ReplicaSet tells which model its pods serve.
export const MODEL_URI_ANNOTATION = 'serving.modelship.dev/model-uri';
export const MODEL_FORMAT_ANNOTATION = 'serving.modelship.dev/model-format';
export const MODEL_VERSION_ANNOTATION = 'serving.modelship.dev/model-version';
export const RUNTIME_ANNOTATION = 'serving.modelship.dev/runtime';

/** Name of the model server container in the pod. */
export const SERVER_CONTAINER = 'server';

function mdName(md: ModelDeployment): string {
  return md.metadata.name ?? '';
}

/** The Deployment/Service/PDB selector. Never includes anything that changes with the model. */
export function selectorLabels(md: ModelDeployment): Record<string, string> {
  return { [NAME_LABEL]: APP_NAME, [INSTANCE_LABEL]: mdName(md) };
}

export function selectorString(md: ModelDeployment): string {
  return Object.entries(selectorLabels(md))
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function standardLabels(md: ModelDeployment): Record<string, string> {
  const labels: Record<string, string> = {
    ...selectorLabels(md),
    [COMPONENT_LABEL]: APP_NAME,
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
  };
  const version = md.spec.model.version;
  if (version !== undefined && version !== '') labels[MODEL_VERSION_LABEL] = version;
  return labels;
}

export function ownerReference(md: ModelDeployment): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: mdName(md),
    uid: md.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function serviceUrl(md: ModelDeployment, config: Pick<RenderConfig, 'clusterDomain'>): string {
  const protocol = md.spec.runtime?.protocol ?? 'http';
  const port = md.spec.service?.port ?? 80;
  const host = `${mdName(md)}.${md.metadata.namespace ?? 'default'}.svc.${config.clusterDomain}`;
  return protocol === 'http' && port === 80 ? `http://${host}` : `${protocol}://${host}:${port}`;
}

/** The model a pod template serves, read back from what render put on it. */
export function servedModelFromTemplate(template: V1PodTemplateSpec | undefined): ServedModel {
  const annotations = template?.metadata?.annotations ?? {};
  const served: ServedModel = {};
  const uri = annotations[MODEL_URI_ANNOTATION];
  if (uri !== undefined) served.uri = uri;
  const format = annotations[MODEL_FORMAT_ANNOTATION];
  if (format !== undefined) served.format = format;
  const version = annotations[MODEL_VERSION_ANNOTATION];
  if (version !== undefined) served.version = version;
  const runtime = annotations[RUNTIME_ANNOTATION];
  if (runtime !== undefined) served.runtime = runtime;
  const image = template?.spec?.containers.find((c) => c.name === SERVER_CONTAINER)?.image;
  if (image !== undefined) served.image = image;
  return served;
}
