// Operator-level settings that shape what render produces (the operator's config fills them).
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { Config } from '../config.ts';
import type { BuiltinRuntimeName, RuntimeImageConfig } from '../runtimes/index.ts';

export interface RenderConfig extends RuntimeImageConfig {
  /** Image per built-in runtime (mlserver, triton, vllm), replacing the pinned default. */
  runtimeImages: Partial<Record<BuiltinRuntimeName, string>>;
  /** Init-container image that downloads s3://, gs://, https:// and hf:// models: it gets `URI DEST` as arguments. */
  modelFetcherImage: string;
  /** Resources of the model-fetcher init container. */
  modelFetcherResources: V1ResourceRequirements;
  /** Non-root user the model fetcher runs as. */
  modelFetcherRunAsUser: number;
  /** DNS domain of the cluster, for status.url. */
  clusterDomain: string;
  /** Spread pods across zones and hosts when the spec gives no topologySpreadConstraints. */
  defaultTopologySpread: boolean;
}

export const defaultRenderConfig: RenderConfig = {
  runtimeImages: {},
  modelFetcherImage: 'docker.io/kserve/storage-initializer:v0.15.2',
  modelFetcherResources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
  modelFetcherRunAsUser: 1000,
  clusterDomain: 'cluster.local',
  defaultTopologySpread: true,
};

/** The render settings of an operator config: main.ts and `modelship render` both use this, so they render alike. */
export function renderConfigFrom(config: Pick<Config, 'runtimeImages' | 'fetcherImage' | 'clusterDomain'>): RenderConfig {
  return {
    ...defaultRenderConfig,
    // parseConfig accepts only the built-in runtime names.
    runtimeImages: { ...defaultRenderConfig.runtimeImages, ...(config.runtimeImages as RenderConfig['runtimeImages']) },
    ...(config.fetcherImage ? { modelFetcherImage: config.fetcherImage } : {}),
    clusterDomain: config.clusterDomain,
  };
}
