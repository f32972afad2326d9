// Built-in serving runtimes, chosen by model.format, and their resolution against spec.runtime
// and the operator's image overrides. Pure data and functions, no I/O.
import type { V1EnvVar, V1Probe } from '@kubernetes/client-node';
import type { ModelDeploymentSpec, ModelFormat, ProbeOverride, Protocol } from '../api/types.ts';

export const MODEL_DIR = '/mnt/models';

export type RuntimeName = 'mlserver' | 'triton' | 'vllm' | 'custom';
export type BuiltinRuntimeName = Exclude<RuntimeName, 'custom'>;

export interface Ports {
  http?: number;
  grpc?: number;
}

export interface RuntimeContext {
  /** Name the model is served under (the ModelDeployment's name). */
  modelName: string;
  format: ModelFormat;
  ports: Ports;
}

export interface RuntimeDefinition {
  name: RuntimeName;
  /** Pinned image; empty for custom, whose image the user must give. */
  image: string;
  formats: readonly ModelFormat[];
  defaultPorts: Ports;
  /** Entrypoint, set where image entrypoints differ between versions. */
  command?: string[];
  args(ctx: RuntimeContext): string[];
  env(ctx: RuntimeContext): V1EnvVar[];
  /** HTTP paths for the probes; without them the probes open a TCP connection. */
  readinessPath?: string;
  livenessPath?: string;
  /** Startup probe timing: periodSeconds × failureThreshold is how long a model may take to load. */
  startup: { periodSeconds: number; failureThreshold: number };
  /** Non-root user for images whose default user is root, so the pod meets the restricted level. */
  runAsUser?: number;
  /** Needs a memory-backed /dev/shm (tensor parallelism in vLLM). */
  sharedMemory: boolean;
}

const MLSERVER_IMPLEMENTATIONS: Partial<Record<ModelFormat, string>> = {
  sklearn: 'mlserver_sklearn.SKLearnModel',
  xgboost: 'mlserver_xgboost.XGBoostModel',
  lightgbm: 'mlserver_lightgbm.LightGBMModel',
  mlflow: 'mlserver_mlflow.MLflowRuntime',
};

export const BUILTIN_RUNTIMES: Readonly<Record<BuiltinRuntimeName, RuntimeDefinition>> = {
  mlserver: {
    name: 'mlserver',
    image: 'docker.io/seldonio/mlserver:1.6.1',
    formats: ['sklearn', 'xgboost', 'lightgbm', 'mlflow'],
    defaultPorts: { http: 8080, grpc: 8081 },
    command: ['mlserver', 'start', MODEL_DIR],
    args: () => [],
    env: (ctx) => [
      { name: 'MLSERVER_HTTP_PORT', value: String(ctx.ports.http) },
      { name: 'MLSERVER_GRPC_PORT', value: String(ctx.ports.grpc) },
      { name: 'MLSERVER_MODEL_NAME', value: ctx.modelName },
      { name: 'MLSERVER_MODEL_IMPLEMENTATION', value: MLSERVER_IMPLEMENTATIONS[ctx.format] ?? '' },
      { name: 'MLSERVER_MODEL_URI', value: MODEL_DIR },
    ],
    readinessPath: '/v2/health/ready',
    livenessPath: '/v2/health/live',
    startup: { periodSeconds: 5, failureThreshold: 120 },
    runAsUser: 1000,
    sharedMemory: false,
  },
  triton: {
    name: 'triton',
    image: 'nvcr.io/nvidia/tritonserver:25.01-py3',
    formats: ['onnx', 'pytorch', 'tensorflow', 'tensorrt'],
    defaultPorts: { http: 8000, grpc: 8001 },
    args: (ctx) => [
      'tritonserver',
      `--model-repository=${MODEL_DIR}`,
      `--http-port=${ctx.ports.http}`,
      `--grpc-port=${ctx.ports.grpc}`,
    ],
    env: () => [],
    readinessPath: '/v2/health/ready',
    livenessPath: '/v2/health/live',
    startup: { periodSeconds: 10, failureThreshold: 90 },
    runAsUser: 1000,
    sharedMemory: true,
  },
  vllm: {
    name: 'vllm',
    image: 'docker.io/vllm/vllm-openai:v0.10.1.1',
    formats: ['huggingface', 'llm'],
    defaultPorts: { http: 8080 },
    // The OpenAI server module has taken --model in every vLLM release; the image entrypoint has not.
    command: ['python3', '-m', 'vllm.entrypoints.openai.api_server'],
    args: (ctx) => [`--model=${MODEL_DIR}`, `--served-model-name=${ctx.modelName}`, `--port=${ctx.ports.http}`],
    env: () => [
      // The weights are already in /mnt/models; never reach out to the Hugging Face Hub.
      { name: 'HF_HUB_OFFLINE', value: '1' },
      { name: 'HF_HOME', value: '/tmp/hf' },
    ],
    readinessPath: '/health',
    livenessPath: '/health',
    startup: { periodSeconds: 10, failureThreshold: 180 },
    runAsUser: 1000,
    sharedMemory: true,
  },
};

export const CUSTOM_RUNTIME: RuntimeDefinition = {
  name: 'custom',
  image: '',
  formats: ['custom'],
  defaultPorts: { http: 8080, grpc: 9000 },
  args: () => [],
  env: () => [],
  startup: { periodSeconds: 10, failureThreshold: 60 },
  sharedMemory: false,
};

export function runtimeForFormat(format: ModelFormat): RuntimeDefinition {
  for (const rt of Object.values(BUILTIN_RUNTIMES)) {
    if (rt.formats.includes(format)) return rt;
  }
  return CUSTOM_RUNTIME;
}

/**
 * The container ports the server listens on. Built-in runtimes serve their default ports unless
 * spec.runtime.ports moves them; a custom image serves what the user lists, or else the default
 * port of its protocol.
 */
export function runtimePorts(spec: ModelDeploymentSpec): Ports {
  const rt = runtimeForFormat(spec.model.format);
  const user = spec.runtime?.ports ?? {};
  if (rt.name === 'custom') {
    if (user.http !== undefined || user.grpc !== undefined) return { ...user };
    const protocol = spec.runtime?.protocol ?? 'http';
    return { [protocol]: rt.defaultPorts[protocol] };
  }
  return { ...rt.defaultPorts, ...user };
}

export interface RuntimeImageConfig {
  /** Image per built-in runtime, replacing the pinned default (for mirrors and air-gapped clusters). */
  runtimeImages: Partial<Record<BuiltinRuntimeName, string>>;
}

export interface ResolvedRuntime {
  name: RuntimeName;
  image: string;
  command?: string[];
  args: string[];
  env: V1EnvVar[];
  ports: Ports;
  protocol: Protocol;
  readinessProbe: V1Probe;
  livenessProbe: V1Probe;
  startupProbe: V1Probe;
  runAsUser?: number;
  sharedMemory: boolean;
}

const HANDLERS = ['httpGet', 'grpc', 'tcpSocket', 'exec'] as const;

/** Fields set in the override replace the default's; a handler in the override replaces the default handler. */
export function mergeProbe(base: V1Probe, override: ProbeOverride | undefined): V1Probe {
  if (override === undefined) return base;
  const out: V1Probe = { ...base };
  if (HANDLERS.some((h) => override[h] !== undefined)) {
    for (const h of HANDLERS) delete out[h];
  }
  for (const [key, value] of Object.entries(override)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

function defaultProbe(rt: RuntimeDefinition, path: string | undefined, port: string, timing: Partial<V1Probe>): V1Probe {
  const handler: V1Probe = path !== undefined ? { httpGet: { path, port } } : { tcpSocket: { port } };
  return { ...handler, ...timing };
}

function mergeEnv(base: V1EnvVar[], extra: V1EnvVar[] | undefined): V1EnvVar[] {
  const byName = new Map(base.map((e) => [e.name, e]));
  for (const e of extra ?? []) byName.set(e.name, e);
  return [...byName.values()];
}

/** The runtime for spec: built-in by format, image from spec.runtime.image, else the config, else the pinned default. */
export function resolveRuntime(spec: ModelDeploymentSpec, config: RuntimeImageConfig, modelName = 'model'): ResolvedRuntime {
  const rt = runtimeForFormat(spec.model.format);
  const protocol = spec.runtime?.protocol ?? 'http';
  const ports = runtimePorts(spec);
  const ctx: RuntimeContext = { modelName, format: spec.model.format, ports };
  const builtinImage = rt.name === 'custom' ? '' : (config.runtimeImages[rt.name] ?? rt.image);
  // Probes go to the HTTP port when there is one: every built-in serves its health API over HTTP.
  const probePort = ports.http !== undefined ? 'http' : 'grpc';
  const readinessPath = probePort === 'http' ? rt.readinessPath : undefined;
  const livenessPath = probePort === 'http' ? rt.livenessPath : undefined;
  const resolved: ResolvedRuntime = {
    name: rt.name,
    image: spec.runtime?.image ?? builtinImage,
    args: [...rt.args(ctx), ...(spec.runtime?.args ?? [])],
    env: mergeEnv(rt.env(ctx), spec.runtime?.env),
    ports,
    protocol,
    readinessProbe: mergeProbe(
      defaultProbe(rt, readinessPath, probePort, { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }),
      spec.runtime?.readinessProbe,
    ),
    livenessProbe: mergeProbe(
      defaultProbe(rt, livenessPath, probePort, { periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 }),
      spec.runtime?.livenessProbe,
    ),
    startupProbe: mergeProbe(
      defaultProbe(rt, livenessPath, probePort, { ...rt.startup, timeoutSeconds: 5 }),
      spec.runtime?.startupProbe,
    ),
    sharedMemory: rt.sharedMemory,
  };
  const command = spec.runtime?.command ?? rt.command;
  if (command !== undefined) resolved.command = command;
  const runAsUser = spec.runtime?.runAsUser ?? rt.runAsUser;
  if (runAsUser !== undefined) resolved.runAsUser = runAsUser;
  return resolved;
}
