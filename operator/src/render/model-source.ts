// How the model reaches /mnt/models: downloaded by an init container into an emptyDir, or a
// PersistentVolumeClaim mounted read-only. Credentials are only ever referenced.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { modelSource, type ModelSource } from '../api/model-uri.ts';
import type { ModelSpec } from '../api/types.ts';
import { MODEL_DIR } from '../runtimes/index.ts';
import type { RenderConfig } from './config.ts';
import { containerSecurityContext } from './security.ts';

export const MODEL_VOLUME = 'model';
export const CREDENTIALS_VOLUME = 'model-credentials';
export const FETCHER_CONTAINER = 'model-fetcher';
export const CREDENTIALS_DIR = '/var/run/secrets/modelship/credentials';
export const GCS_CREDENTIALS_KEY = 'service-account.json';

/** Secret keys exposed to the fetcher as environment references, per scheme; `required` ones must exist. */
export const CREDENTIAL_ENV: Readonly<Record<'s3' | 'hf', readonly { key: string; required: boolean }[]>> = {
  s3: [
    { key: 'AWS_ACCESS_KEY_ID', required: true },
    { key: 'AWS_SECRET_ACCESS_KEY', required: true },
    { key: 'AWS_SESSION_TOKEN', required: false },
    { key: 'AWS_DEFAULT_REGION', required: false },
    { key: 'AWS_ENDPOINT_URL', required: false },
  ],
  hf: [{ key: 'HF_TOKEN', required: true }],
};

export interface ModelPieces {
  volumes: V1Volume[];
  serverMounts: V1VolumeMount[];
  initContainers: V1Container[];
}

function fetcherEnv(source: Extract<ModelSource, { kind: 'download' }>, secret: string | undefined): V1EnvVar[] {
  if (secret === undefined) return [];
  if (source.scheme === 'gs') {
    return [{ name: 'GOOGLE_APPLICATION_CREDENTIALS', value: `${CREDENTIALS_DIR}/${GCS_CREDENTIALS_KEY}` }];
  }
  if (source.scheme === 'https') return [];
  return CREDENTIAL_ENV[source.scheme].map(({ key, required }) => ({
    name: key,
    valueFrom: { secretKeyRef: required ? { name: secret, key } : { name: secret, key, optional: true } },
  }));
}

export function modelPieces(model: ModelSpec, config: RenderConfig): ModelPieces {
  const source = modelSource(model.uri);
  if (source.kind === 'pvc') {
    const mount: V1VolumeMount = { name: MODEL_VOLUME, mountPath: MODEL_DIR, readOnly: true };
    if (source.subPath !== undefined) mount.subPath = source.subPath;
    return {
      volumes: [{ name: MODEL_VOLUME, persistentVolumeClaim: { claimName: source.claimName, readOnly: true } }],
      serverMounts: [mount],
      initContainers: [],
    };
  }
  const secret = model.credentialsSecret;
  const volumes: V1Volume[] = [{ name: MODEL_VOLUME, emptyDir: {} }];
  const fetcherMounts: V1VolumeMount[] = [{ name: MODEL_VOLUME, mountPath: MODEL_DIR }];
  if (source.scheme === 'gs' && secret !== undefined) {
    volumes.push({ name: CREDENTIALS_VOLUME, secret: { secretName: secret, items: [{ key: GCS_CREDENTIALS_KEY, path: GCS_CREDENTIALS_KEY }] } });
    fetcherMounts.push({ name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true });
  }
  const fetcher: V1Container = {
    name: FETCHER_CONTAINER,
    image: config.modelFetcherImage,
    args: [source.uri, MODEL_DIR],
    resources: config.modelFetcherResources,
    volumeMounts: fetcherMounts,
    securityContext: containerSecurityContext(config.modelFetcherRunAsUser),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const env = fetcherEnv(source, secret);
  if (env.length > 0) fetcher.env = env;
  return {
    volumes,
    serverMounts: [{ name: MODEL_VOLUME, mountPath: MODEL_DIR, readOnly: true }],
    initContainers: [fetcher],
  };
}
