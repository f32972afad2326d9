import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODEL_FORMATS } from '../../../operator/src/api/schema.ts';
import type { ModelDeploymentSpec, ModelFormat } from '../../../operator/src/api/types.ts';
import {
  BUILTIN_RUNTIMES,
  mergeProbe,
  resolveRuntime,
  runtimeForFormat,
  runtimePorts,
} from '../../../operator/src/runtimes/index.ts';
import type { RuntimeName } from '../../../operator/src/runtimes/index.ts';

const noOverrides = { runtimeImages: {} };
const spec = (format: ModelFormat, extra: Partial<ModelDeploymentSpec> = {}): ModelDeploymentSpec => ({
  model: { uri: 's3://bkt/m', format },
  ...extra,
});

const formatToRuntime: Record<ModelFormat, RuntimeName> = {
  sklearn: 'mlserver',
  xgboost: 'mlserver',
  lightgbm: 'mlserver',
  mlflow: 'mlserver',
  onnx: 'triton',
  pytorch: 'triton',
  tensorflow: 'triton',
  tensorrt: 'triton',
  huggingface: 'vllm',
  llm: 'vllm',
  custom: 'custom',
};
for (const format of MODEL_FORMATS) {
  test(`format ${format} runs on ${formatToRuntime[format]}`, () => {
    assert.equal(runtimeForFormat(format).name, formatToRuntime[format]);
  });
}

test('each format belongs to at most one built-in runtime', () => {
  const all = Object.values(BUILTIN_RUNTIMES).flatMap((r) => r.formats);
  assert.equal(new Set(all).size, all.length);
});

for (const rt of Object.values(BUILTIN_RUNTIMES)) {
  test(`${rt.name}: pinned image, non-root user, HTTP health paths, a generous startup probe`, () => {
    assert.match(rt.image, /^[a-z0-9.-]+\/[a-z0-9./_-]+:[A-Za-z0-9._-]+$/);
    assert.doesNotMatch(rt.image, /:latest$/);
    assert.ok((rt.runAsUser ?? 0) > 0);
    assert.ok(rt.readinessPath?.startsWith('/'));
    assert.ok(rt.livenessPath?.startsWith('/'));
    assert.ok(rt.defaultPorts.http !== undefined);
    assert.ok(rt.startup.periodSeconds * rt.startup.failureThreshold >= 600, 'at least 10 minutes to load');
  });
}

test('vLLM allows at least 30 minutes for an LLM to load', () => {
  const { periodSeconds, failureThreshold } = BUILTIN_RUNTIMES.vllm.startup;
  assert.ok(periodSeconds * failureThreshold >= 1800);
});

const images: Array<[string, ModelDeploymentSpec, Partial<Record<'mlserver' | 'triton' | 'vllm', string>>, string]> = [
  ['built-in', spec('sklearn'), {}, BUILTIN_RUNTIMES.mlserver.image],
  ['operator config', spec('onnx'), { triton: 'mirror.local/triton:25.01' }, 'mirror.local/triton:25.01'],
  ['config for another runtime is ignored', spec('onnx'), { vllm: 'mirror.local/vllm:1' }, BUILTIN_RUNTIMES.triton.image],
  ['spec wins over config', spec('llm', { runtime: { image: 'acme/vllm:patched' } }), { vllm: 'mirror.local/vllm:1' }, 'acme/vllm:patched'],
  ['custom uses the spec image', spec('custom', { runtime: { image: 'acme/server:2' } }), {}, 'acme/server:2'],
];
for (const [name, s, runtimeImages, want] of images) {
  test(`image: ${name}`, () => assert.equal(resolveRuntime(s, { runtimeImages }).image, want));
}

const ports: Array<[string, ModelDeploymentSpec, object]> = [
  ['mlserver defaults', spec('xgboost'), { http: 8080, grpc: 8081 }],
  ['triton defaults', spec('onnx'), { http: 8000, grpc: 8001 }],
  ['vllm has no gRPC', spec('llm'), { http: 8080 }],
  ['user moves a port', spec('onnx', { runtime: { ports: { grpc: 9001 } } }), { http: 8000, grpc: 9001 }],
  ['custom http default', spec('custom', { runtime: { image: 'i' } }), { http: 8080 }],
  ['custom grpc default', spec('custom', { runtime: { image: 'i', protocol: 'grpc' } }), { grpc: 9000 }],
  ['custom lists its ports', spec('custom', { runtime: { image: 'i', ports: { http: 5000, grpc: 5001 } } }), { http: 5000, grpc: 5001 }],
];
for (const [name, s, want] of ports) {
  test(`ports: ${name}`, () => {
    assert.deepEqual(runtimePorts(s), want);
    assert.deepEqual(resolveRuntime(s, noOverrides).ports, want);
  });
}

test('mlserver: model implementation per format and ports in env', () => {
  const impl = (f: ModelFormat) => resolveRuntime(spec(f), noOverrides, 'm').env.find((e) => e.name === 'MLSERVER_MODEL_IMPLEMENTATION')?.value;
  assert.equal(impl('sklearn'), 'mlserver_sklearn.SKLearnModel');
  assert.equal(impl('xgboost'), 'mlserver_xgboost.XGBoostModel');
  assert.equal(impl('lightgbm'), 'mlserver_lightgbm.LightGBMModel');
  assert.equal(impl('mlflow'), 'mlserver_mlflow.MLflowRuntime');
  const env = resolveRuntime(spec('sklearn', { runtime: { ports: { http: 9090 } } }), noOverrides, 'iris').env;
  assert.deepEqual(
    env.filter((e) => ['MLSERVER_HTTP_PORT', 'MLSERVER_GRPC_PORT', 'MLSERVER_MODEL_NAME', 'MLSERVER_MODEL_URI'].includes(e.name)),
    [
      { name: 'MLSERVER_HTTP_PORT', value: '9090' },
      { name: 'MLSERVER_GRPC_PORT', value: '8081' },
      { name: 'MLSERVER_MODEL_NAME', value: 'iris' },
      { name: 'MLSERVER_MODEL_URI', value: '/mnt/models' },
    ],
  );
});

const args: Array<[string, ModelDeploymentSpec, string[]]> = [
  ['triton reads the repository and its ports', spec('onnx', { runtime: { ports: { http: 8100 } } }), [
    'tritonserver', '--model-repository=/mnt/models', '--http-port=8100', '--grpc-port=8001',
  ]],
  ['vllm serves the model under the ModelDeployment name', spec('llm'), ['--model=/mnt/models', '--served-model-name=chat', '--port=8080']],
  ['user args are appended', spec('llm', { runtime: { args: ['--max-model-len=4096'] } }), [
    '--model=/mnt/models', '--served-model-name=chat', '--port=8080', '--max-model-len=4096',
  ]],
  ['custom gets only the user args', spec('custom', { runtime: { image: 'i', args: ['--serve'] } }), ['--serve']],
  ['mlserver starts from its command; user args follow it', spec('sklearn', { runtime: { args: ['--debug'] } }), ['--debug']],
];
for (const [name, s, want] of args) {
  test(`args: ${name}`, () => assert.deepEqual(resolveRuntime(s, noOverrides, 'chat').args, want));
}

const commands: Array<[string, ModelDeploymentSpec, string[] | undefined]> = [
  ['mlserver', spec('sklearn'), ['mlserver', 'start', '/mnt/models']],
  ['vllm', spec('llm'), ['python3', '-m', 'vllm.entrypoints.openai.api_server']],
  ['triton keeps the image entrypoint', spec('onnx'), undefined],
  ['custom keeps the image entrypoint', spec('custom', { runtime: { image: 'i' } }), undefined],
  ['the user command wins', spec('llm', { runtime: { command: ['vllm', 'serve'] } }), ['vllm', 'serve']],
];
for (const [name, s, want] of commands) {
  test(`command: ${name}`, () => assert.deepEqual(resolveRuntime(s, noOverrides).command, want));
}

test('user env replaces a built-in variable by name and adds new ones', () => {
  const env = resolveRuntime(spec('llm', { runtime: { env: [{ name: 'HF_HUB_OFFLINE', value: '0' }, { name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' }] } }), noOverrides).env;
  assert.deepEqual(env, [
    { name: 'HF_HUB_OFFLINE', value: '0' },
    { name: 'HF_HOME', value: '/tmp/hf' },
    { name: 'VLLM_LOGGING_LEVEL', value: 'DEBUG' },
  ]);
});

test('probes: HTTP health paths of the runtime on the named http port', () => {
  const rt = resolveRuntime(spec('onnx'), noOverrides);
  assert.deepEqual(rt.readinessProbe.httpGet, { path: '/v2/health/ready', port: 'http' });
  assert.deepEqual(rt.livenessProbe.httpGet, { path: '/v2/health/live', port: 'http' });
  assert.deepEqual(rt.startupProbe.httpGet, { path: '/v2/health/live', port: 'http' });
  assert.equal(rt.startupProbe.failureThreshold, BUILTIN_RUNTIMES.triton.startup.failureThreshold);
});

test('probes: a custom image gets TCP probes on its main port', () => {
  assert.deepEqual(resolveRuntime(spec('custom', { runtime: { image: 'i' } }), noOverrides).readinessProbe.tcpSocket, { port: 'http' });
  assert.deepEqual(resolveRuntime(spec('custom', { runtime: { image: 'i', protocol: 'grpc' } }), noOverrides).livenessProbe.tcpSocket, { port: 'grpc' });
});

const merges: Array<[string, Parameters<typeof mergeProbe>[1], object]> = [
  ['no override', undefined, { httpGet: { path: '/h', port: 'http' }, periodSeconds: 10, failureThreshold: 3 }],
  ['timing only keeps the handler', { failureThreshold: 360 }, { httpGet: { path: '/h', port: 'http' }, periodSeconds: 10, failureThreshold: 360 }],
  ['a handler replaces the handler', { exec: { command: ['true'] } }, { exec: { command: ['true'] }, periodSeconds: 10, failureThreshold: 3 }],
  ['a new HTTP path', { httpGet: { path: '/ready', port: 8080 } }, { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 10, failureThreshold: 3 }],
];
for (const [name, override, want] of merges) {
  test(`mergeProbe: ${name}`, () => {
    assert.deepEqual(mergeProbe({ httpGet: { path: '/h', port: 'http' }, periodSeconds: 10, failureThreshold: 3 }, override), want);
  });
}

test('runAsUser: built-in user, none for custom, the spec wins', () => {
  assert.equal(resolveRuntime(spec('sklearn'), noOverrides).runAsUser, 1000);
  assert.equal(resolveRuntime(spec('custom', { runtime: { image: 'i' } }), noOverrides).runAsUser, undefined);
  assert.equal(resolveRuntime(spec('custom', { runtime: { image: 'i', runAsUser: 10001 } }), noOverrides).runAsUser, 10001);
  assert.equal(resolveRuntime(spec('llm', { runtime: { runAsUser: 2000 } }), noOverrides).runAsUser, 2000);
});

test('protocol defaults to http', () => {
  assert.equal(resolveRuntime(spec('sklearn'), noOverrides).protocol, 'http');
  assert.equal(resolveRuntime(spec('onnx', { runtime: { protocol: 'grpc' } }), noOverrides).protocol, 'grpc');
});
