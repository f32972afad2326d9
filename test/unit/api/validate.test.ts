import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGpuResource, requestsGpus, withDefaults } from '../../../operator/src/api/defaults.ts';
import type { ModelDeploymentSpec } from '../../../operator/src/api/types.ts';
import { formatFieldErrors, instancePathToField, validateModelDeployment } from '../../../operator/src/api/validate.ts';
import { loadExamples, mdep } from './fixtures.ts';

const cpu = { requests: { cpu: '1' } };
const gpu = { requests: { cpu: '1' }, limits: { 'nvidia.com/gpu': 1 } };

test('every example is valid', () => {
  for (const ex of loadExamples()) {
    const r = validateModelDeployment(ex.object);
    assert.ok(r.ok, `${ex.file}: ${r.ok ? '' : formatFieldErrors(r.errors)}`);
  }
});

const valid: Array<[string, Partial<ModelDeploymentSpec>]> = [
  ['only a model', {}],
  ['https model', { model: { uri: 'https://models.example.com/a/model.joblib', format: 'sklearn' } }],
  ['hf model for vLLM', { model: { uri: 'hf://meta-llama/Llama-3.1-8B', format: 'huggingface', credentialsSecret: 'hf' } }],
  ['gs model with credentials', { model: { uri: 'gs://bucket-a/m', format: 'onnx', credentialsSecret: 'gcs' } }],
  ['pvc claim root', { model: { uri: 'pvc://models', format: 'pytorch' } }],
  ['pvc with path', { model: { uri: 'pvc://models/a/b', format: 'tensorflow' } }],
  ['zero replicas', { replicas: 0 }],
  ['percent rollout', { rollout: { maxSurge: '100%', maxUnavailable: '0%' } }],
  ['GPU with explicit surge', { resources: gpu, rollout: { maxSurge: 1, maxUnavailable: 0 } }],
  ['GPU with default rollout', { resources: gpu }],
  ['autoscaling on a custom metric needs no CPU request', {
    autoscaling: { maxReplicas: 3, metrics: [{ type: 'External', external: { metric: { name: 'queue' }, target: { type: 'Value', value: '10' } } }] },
  }],
  ['autoscaling equal min and max', { resources: cpu, autoscaling: { minReplicas: 3, maxReplicas: 3 } }],
  ['custom with image over gRPC', { model: { uri: 's3://bkt/m', format: 'custom' }, runtime: { image: 'img:1', protocol: 'grpc' } }],
  ['triton over gRPC', { model: { uri: 's3://bkt/m', format: 'onnx' }, runtime: { protocol: 'grpc' } }],
  ['vLLM with its own gRPC port', { model: { uri: 'hf://a/b', format: 'llm' }, runtime: { protocol: 'grpc', ports: { grpc: 9000 } } }],
  ['PDB disabled', { replicas: 3, availability: { enabled: false } }],
  ['user labels and annotations', { pod: { labels: { team: 'risk', 'app.kubernetes.io/part-of': 'fraud' }, annotations: { 'prometheus.io/scrape': 'true' } } }],
  ['extended resources as numbers and strings', { resources: { requests: { cpu: 2, memory: '1.5Gi' }, limits: { 'amd.com/gpu': '1' } }, rollout: { maxUnavailable: 1 } }],
];
for (const [name, spec] of valid) {
  test(`valid: ${name}`, () => {
    const r = validateModelDeployment(mdep(spec));
    assert.ok(r.ok, r.ok ? '' : formatFieldErrors(r.errors));
  });
}

const invalid: Array<[string, unknown, Array<{ field: string; message: string }>]> = [
  ['not an object', 'hello', [{ field: '', message: 'must be a map of fields' }]],
  ['null', null, [{ field: '', message: 'must be a map of fields' }]],
  ['wrong apiVersion', { ...mdep({}), apiVersion: 'serving.modelship.dev/v1' }, [{ field: 'apiVersion', message: 'must be serving.modelship.dev/v1alpha1' }]],
  ['wrong kind', { ...mdep({}), kind: 'Deployment' }, [{ field: 'kind', message: 'must be ModelDeployment' }]],
  ['no name', { ...mdep({}), metadata: {} }, [{ field: 'metadata.name', message: 'is required' }]],
  ['spec as a list', { ...mdep({}), spec: [] }, [{ field: 'spec', message: 'must be a map of fields' }]],
  ['far-off unknown field lists the known ones', mdep({ service: { portz: 1 } } as unknown as Partial<ModelDeploymentSpec>), [
    { field: 'spec.service.portz', message: 'is not a known field; did you mean port?' },
  ]],
  ['unknown top-level spec field', mdep({ gpu: true } as unknown as Partial<ModelDeploymentSpec>), [
    { field: 'spec.gpu', message: 'is not a known field; known fields are model, runtime, resources, replicas, autoscaling, rollout, availability, service, scheduling, pod' },
  ]],
  ['too many args', mdep({ runtime: { args: Array.from({ length: 129 }, () => 'x') } }), [
    { field: 'spec.runtime.args', message: 'must have at most 128 items' },
  ]],
  ['version too long', mdep({ model: { uri: 's3://bkt/m', format: 'sklearn', version: 'v'.repeat(64) } }), [
    { field: 'spec.model.version', message: 'must be at most 63 characters long' },
  ]],
  ['boolean as a string', mdep({ availability: { enabled: 'no' } } as unknown as Partial<ModelDeploymentSpec>), [
    { field: 'spec.availability.enabled', message: 'must be true or false' },
  ]],
  ['float rollout', mdep({ rollout: { maxSurge: 1.5 } }), [{ field: 'spec.rollout.maxSurge', message: 'must be a whole number or a string' }]],
  ['env without a name', mdep({ runtime: { env: [{ value: 'x' }] } } as unknown as Partial<ModelDeploymentSpec>), [
    { field: 'spec.runtime.env[0].name', message: 'is required' },
  ]],
  ['label key with a bad prefix', mdep({ pod: { labels: { 'Bad_Prefix/x': 'y' } } }), [
    { field: 'spec.pod.labels[Bad_Prefix/x]', message: 'is not a valid label key: use an optional DNS prefix and a name of at most 63 letters, digits, dashes, underscores and dots' },
  ]],
  ['GPU with maxUnavailable 0% and no surge', mdep({ resources: gpu, rollout: { maxUnavailable: '0%' } }), [
    { field: 'spec.rollout.maxUnavailable', message: 'is 0, and pods that request GPUs get maxSurge 0 by default, so a rollout could never replace a pod; set rollout.maxSurge (needs spare GPUs) or allow maxUnavailable of at least 1' },
  ]],
  ['explicit CPU target without CPU request', mdep({ autoscaling: { maxReplicas: 2, targetCPUUtilizationPercentage: 50 } }), [
    { field: 'spec.resources.requests.cpu', message: 'is required for autoscaling on CPU, because the target is a percentage of the CPU request' },
  ]],
  ['grpc service port colliding with HTTP', mdep({ model: { uri: 's3://bkt/m', format: 'onnx' }, runtime: { protocol: 'grpc' }, service: { port: 8000 } }), [
    { field: 'spec.service.port', message: '8000 is already the Service port for http (the http container port); choose another port' },
  ]],
];
for (const [name, obj, errors] of invalid) {
  test(`invalid: ${name}`, () => {
    const r = validateModelDeployment(obj);
    assert.equal(r.ok, false);
    if (!r.ok) assert.deepEqual(r.errors, errors);
  });
}

test('validation returns the defaulted object and leaves its input alone', () => {
  const input = mdep({});
  const before = structuredClone(input);
  const r = validateModelDeployment(input);
  assert.ok(r.ok);
  assert.deepEqual(input, before);
  if (r.ok) {
    assert.equal(r.value.spec.replicas, 1);
    assert.deepEqual(r.value.spec.service, { type: 'ClusterIP', port: 80 });
  }
});

const paths: Array<[string, string]> = [
  ['', ''],
  ['/spec', 'spec'],
  ['/spec/autoscaling/minReplicas', 'spec.autoscaling.minReplicas'],
  ['/spec/runtime/env/0/name', 'spec.runtime.env[0].name'],
  ['/spec/resources/limits/nvidia.com~1gpu', 'spec.resources.limits[nvidia.com/gpu]'],
  ['/spec/pod/labels/a~0b', 'spec.pod.labels.a~b'],
];
for (const [path, field] of paths) {
  test(`instance path ${JSON.stringify(path)} → ${JSON.stringify(field)}`, () => assert.equal(instancePathToField(path), field));
}

test('formatFieldErrors joins errors into one sentence list', () => {
  assert.equal(formatFieldErrors([]), '');
  assert.equal(formatFieldErrors([{ field: 'spec.replicas', message: 'must be at least 0' }]), 'spec.replicas: must be at least 0.');
  assert.equal(
    formatFieldErrors([
      { field: 'spec.a', message: 'is required' },
      { field: 'spec.b', message: 'must be true or false' },
    ]),
    'spec.a: is required; spec.b: must be true or false.',
  );
});

const defaults: Array<[string, Partial<ModelDeploymentSpec>, (s: ModelDeploymentSpec) => unknown, unknown]> = [
  ['replicas default 1 without autoscaling', {}, (s) => s.replicas, 1],
  ['replicas kept', { replicas: 4 }, (s) => s.replicas, 4],
  ['no replicas with autoscaling', { autoscaling: { maxReplicas: 4 } }, (s) => s.replicas, undefined],
  ['minReplicas default 1', { autoscaling: { maxReplicas: 4 } }, (s) => s.autoscaling?.minReplicas, 1],
  ['CPU target 80 when no target', { autoscaling: { maxReplicas: 4 } }, (s) => s.autoscaling?.targetCPUUtilizationPercentage, 80],
  ['no CPU target when memory is the target', { autoscaling: { maxReplicas: 4, targetMemoryUtilizationPercentage: 70 } }, (s) => s.autoscaling?.targetCPUUtilizationPercentage, undefined],
  ['no CPU target with custom metrics', { autoscaling: { maxReplicas: 4, metrics: [{ type: 'Pods' }] } }, (s) => s.autoscaling?.targetCPUUtilizationPercentage, undefined],
  ['protocol http', {}, (s) => s.runtime?.protocol, 'http'],
  ['protocol kept', { runtime: { protocol: 'grpc' } }, (s) => s.runtime?.protocol, 'grpc'],
  ['service defaults', {}, (s) => s.service, { type: 'ClusterIP', port: 80 }],
  ['service port kept', { service: { port: 8080 } }, (s) => s.service, { port: 8080, type: 'ClusterIP' }],
  ['CPU rollout 25%/0', {}, (s) => [s.rollout?.maxSurge, s.rollout?.maxUnavailable], ['25%', 0]],
  ['GPU rollout 0/1', { resources: gpu }, (s) => [s.rollout?.maxSurge, s.rollout?.maxUnavailable], [0, 1]],
  ['MIG slice counts as GPU', { resources: { limits: { 'nvidia.com/mig-1g.5gb': 1 } } }, (s) => s.rollout?.maxSurge, 0],
  ['zero GPUs is no GPU', { resources: { limits: { 'nvidia.com/gpu': 0 } } }, (s) => s.rollout?.maxSurge, '25%'],
  ['GPU with user surge keeps maxUnavailable 0', { resources: gpu, rollout: { maxSurge: 1 } }, (s) => [s.rollout?.maxSurge, s.rollout?.maxUnavailable], [1, 0]],
  ['GPU with user maxUnavailable', { resources: gpu, rollout: { maxUnavailable: 2 } }, (s) => [s.rollout?.maxSurge, s.rollout?.maxUnavailable], [0, 2]],
  ['user maxSurge 0 on CPU gets maxUnavailable 1', { rollout: { maxSurge: '0%' } }, (s) => s.rollout?.maxUnavailable, 1],
  ['progress deadline 600', {}, (s) => s.rollout?.progressDeadlineSeconds, 600],
  ['progress deadline kept', { rollout: { progressDeadlineSeconds: 60 } }, (s) => s.rollout?.progressDeadlineSeconds, 60],
  ['PDB enabled', {}, (s) => s.availability?.enabled, true],
  ['PDB disabled kept', { availability: { enabled: false } }, (s) => s.availability?.enabled, false],
];
for (const [name, spec, pick, want] of defaults) {
  test(`default: ${name}`, () => assert.deepEqual(pick(withDefaults(mdep(spec)).spec), want));
}

test('withDefaults is idempotent and does not mutate its input', () => {
  const input = mdep({ resources: gpu, autoscaling: { maxReplicas: 3 } });
  const before = structuredClone(input);
  const once = withDefaults(input);
  assert.deepEqual(withDefaults(once), once);
  assert.deepEqual(input, before);
});

const gpuNames: Array<[string, boolean]> = [
  ['nvidia.com/gpu', true],
  ['amd.com/gpu', true],
  ['gpu.intel.com/i915', true],
  ['nvidia.com/mig-3g.20gb', true],
  ['nvidia.com/gpu.shared', true],
  ['cpu', false],
  ['memory', false],
  ['example.com/fpga', false],
  ['hugepages-2Mi', false],
];
for (const [name, want] of gpuNames) {
  test(`isGpuResource(${name}) is ${want}`, () => assert.equal(isGpuResource(name), want));
}

test('requestsGpus looks at requests and limits and ignores zero', () => {
  assert.equal(requestsGpus(undefined), false);
  assert.equal(requestsGpus({ requests: { 'nvidia.com/gpu': '1' } }), true);
  assert.equal(requestsGpus({ limits: { 'nvidia.com/gpu': 2 } }), true);
  assert.equal(requestsGpus({ limits: { 'nvidia.com/gpu': '0' } }), false);
  assert.equal(requestsGpus({ limits: { cpu: '4' } }), false);
});
