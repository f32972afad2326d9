import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Container, V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import type { ModelDeploymentSpec } from '../../../operator/src/api/types.ts';
import { validateModelDeployment } from '../../../operator/src/api/validate.ts';
import {
  defaultRenderConfig,
  MANAGED_BY_LABEL,
  MODEL_URI_ANNOTATION,
  ownerReference,
  renderChildren,
  selectorLabels,
  selectorString,
  servedModelFromTemplate,
  serviceUrl,
  standardLabels,
} from '../../../operator/src/render/index.ts';
import type { DesiredChildren, RenderConfig } from '../../../operator/src/render/index.ts';
import { loadExamples, mdep } from '../api/fixtures.ts';

const cpu = { requests: { cpu: '1' } };
const gpu = { requests: { cpu: '1' }, limits: { 'nvidia.com/gpu': 1 } };

function render(spec: Partial<ModelDeploymentSpec>, config: RenderConfig = defaultRenderConfig, name = 'demo'): DesiredChildren {
  const r = validateModelDeployment(mdep(spec, name));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return renderChildren(r.value, config);
}
const podOf = (c: DesiredChildren): V1PodSpec => c.deployment.spec!.template.spec!;
const server = (c: DesiredChildren): V1Container => podOf(c).containers.find((x) => x.name === 'server')!;
const fetcher = (c: DesiredChildren): V1Container | undefined => podOf(c).initContainers?.find((x) => x.name === 'model-fetcher');

test('every child has apiVersion, kind, name, namespace, standard labels and a controller owner reference', () => {
  const c = render({ resources: cpu, autoscaling: { maxReplicas: 3 } });
  const objects = [c.deployment, c.service, c.hpa, c.pdb];
  assert.deepEqual(objects.map((o) => `${o?.apiVersion}/${o?.kind}`), [
    'apps/v1/Deployment',
    'v1/Service',
    'autoscaling/v2/HorizontalPodAutoscaler',
    'policy/v1/PodDisruptionBudget',
  ]);
  for (const o of objects) {
    assert.equal(o?.metadata?.name, 'demo');
    assert.equal(o?.metadata?.namespace, 'ml');
    assert.deepEqual(o?.metadata?.labels, {
      'app.kubernetes.io/name': 'model-server',
      'app.kubernetes.io/instance': 'demo',
      'app.kubernetes.io/component': 'model-server',
      'app.kubernetes.io/managed-by': 'modelship',
    });
    assert.deepEqual(o?.metadata?.ownerReferences, [
      { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', name: 'demo', uid: 'uid-demo', controller: true, blockOwnerDeletion: true },
    ]);
  }
});

test('ownerReference, labels and selector helpers', () => {
  const md = mdep({ model: { uri: 's3://bkt/m', format: 'sklearn', version: '7' } }, 'fraud');
  assert.equal(ownerReference(md).controller, true);
  assert.equal(standardLabels(md)['serving.modelship.dev/model-version'], '7');
  assert.equal(standardLabels(md)[MANAGED_BY_LABEL], 'modelship');
  assert.equal(selectorString(md), 'app.kubernetes.io/instance=fraud,app.kubernetes.io/name=model-server');
});

test('the selector does not change when the model changes', () => {
  const a = render({ model: { uri: 's3://bkt/a', format: 'sklearn', version: '1' } });
  const b = render({ model: { uri: 'hf://org/llm', format: 'llm', version: '2' } });
  assert.deepEqual(a.deployment.spec!.selector, b.deployment.spec!.selector);
  assert.deepEqual(a.service.spec!.selector, b.service.spec!.selector);
  assert.deepEqual(a.deployment.spec!.selector.matchLabels, selectorLabels(mdep({})));
});

const urls: Array<[string, Partial<ModelDeploymentSpec>, RenderConfig, string]> = [
  ['http on 80', {}, defaultRenderConfig, 'http://demo.ml.svc.cluster.local'],
  ['http on 8080', { service: { port: 8080 } }, defaultRenderConfig, 'http://demo.ml.svc.cluster.local:8080'],
  ['grpc', { model: { uri: 's3://bkt/m', format: 'onnx' }, runtime: { protocol: 'grpc' }, service: { port: 9000 } }, defaultRenderConfig, 'grpc://demo.ml.svc.cluster.local:9000'],
  ['cluster domain', {}, { ...defaultRenderConfig, clusterDomain: 'corp.internal' }, 'http://demo.ml.svc.corp.internal'],
];
for (const [name, spec, config, want] of urls) {
  test(`serviceUrl: ${name}`, () => assert.equal(serviceUrl(mdep(spec), config), want));
}

const replicas: Array<[string, Partial<ModelDeploymentSpec>, number | undefined, boolean]> = [
  ['default 1', {}, 1, false],
  ['fixed 3', { replicas: 3 }, 3, false],
  ['zero', { replicas: 0 }, 0, false],
  ['autoscaled: no replicas, an HPA', { resources: cpu, autoscaling: { maxReplicas: 5 } }, undefined, true],
];
for (const [name, spec, want, hpa] of replicas) {
  test(`Deployment replicas: ${name}`, () => {
    const c = render(spec);
    assert.equal(c.deployment.spec!.replicas, want);
    assert.equal('replicas' in c.deployment.spec!, want !== undefined);
    assert.equal(c.hpa !== undefined, hpa);
  });
}

const strategies: Array<[string, Partial<ModelDeploymentSpec>, object]> = [
  ['CPU default', {}, { maxSurge: '25%', maxUnavailable: 0 }],
  ['GPU default never surges', { resources: gpu }, { maxSurge: 0, maxUnavailable: 1 }],
  ['GPU with explicit surge', { resources: gpu, rollout: { maxSurge: 1 } }, { maxSurge: 1, maxUnavailable: 0 }],
  ['user values', { rollout: { maxSurge: '50%', maxUnavailable: '10%' } }, { maxSurge: '50%', maxUnavailable: '10%' }],
];
for (const [name, spec, want] of strategies) {
  test(`rolling update: ${name}`, () => {
    const d = render(spec).deployment;
    assert.deepEqual(d.spec!.strategy, { type: 'RollingUpdate', rollingUpdate: want });
  });
}

test('progress deadline: 600 by default, else the spec', () => {
  assert.equal(render({}).deployment.spec!.progressDeadlineSeconds, 600);
  assert.equal(render({ rollout: { progressDeadlineSeconds: 1800 } }).deployment.spec!.progressDeadlineSeconds, 1800);
});

const pdbs: Array<[string, Partial<ModelDeploymentSpec>, object | undefined]> = [
  ['one replica: none (it would block drains)', {}, undefined],
  ['zero replicas: none', { replicas: 0 }, undefined],
  ['two replicas: maxUnavailable 1', { replicas: 2 }, { maxUnavailable: 1 }],
  ['autoscaling up to 5: maxUnavailable 1', { resources: cpu, autoscaling: { maxReplicas: 5 } }, { maxUnavailable: 1 }],
  ['autoscaling up to 1: none', { resources: cpu, autoscaling: { maxReplicas: 1 } }, undefined],
  ['disabled', { replicas: 4, availability: { enabled: false } }, undefined],
  ['user minAvailable, even with one replica', { availability: { minAvailable: 1 } }, { minAvailable: 1 }],
  ['user maxUnavailable percentage', { replicas: 4, availability: { maxUnavailable: '50%' } }, { maxUnavailable: '50%' }],
];
for (const [name, spec, want] of pdbs) {
  test(`PDB: ${name}`, () => {
    const pdb = render(spec).pdb;
    if (want === undefined) {
      assert.equal(pdb, undefined);
      return;
    }
    assert.deepEqual(pdb?.spec, {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'model-server', 'app.kubernetes.io/instance': 'demo' } },
      ...want,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
  });
}

test('HPA: targets the Deployment, CPU and memory first, then custom metrics, behavior passed through', () => {
  const behavior = { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } };
  const custom = { type: 'Pods', pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } } };
  const hpa = render({
    resources: { requests: { cpu: '1', memory: '1Gi' } },
    autoscaling: { minReplicas: 2, maxReplicas: 9, targetCPUUtilizationPercentage: 60, targetMemoryUtilizationPercentage: 70, metrics: [custom], behavior },
  }).hpa;
  assert.deepEqual(hpa?.spec, {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo' },
    minReplicas: 2,
    maxReplicas: 9,
    metrics: [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } },
      custom,
    ],
    behavior,
  });
});

test('HPA: with no target, 80% CPU and minReplicas 1', () => {
  const hpa = render({ resources: cpu, autoscaling: { maxReplicas: 4 } }).hpa;
  assert.equal(hpa?.spec?.minReplicas, 1);
  assert.deepEqual(hpa?.spec?.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
  assert.equal(hpa?.spec?.behavior, undefined);
});

const services: Array<[string, Partial<ModelDeploymentSpec>, object[]]> = [
  ['MLServer over HTTP', {}, [
    { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
    { name: 'grpc', port: 8081, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
  ]],
  ['Triton over gRPC', { model: { uri: 's3://bkt/m', format: 'onnx' }, runtime: { protocol: 'grpc' }, service: { port: 9000 } }, [
    { name: 'grpc', port: 9000, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
    { name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
  ]],
  ['vLLM: HTTP only', { model: { uri: 'hf://org/m', format: 'llm' } }, [
    { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
  ]],
  ['custom on 5000', { model: { uri: 's3://bkt/m', format: 'custom' }, runtime: { image: 'i', ports: { http: 5000 } } }, [
    { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
  ]],
];
for (const [name, spec, want] of services) {
  test(`Service ports: ${name}`, () => {
    const s = render(spec).service;
    assert.deepEqual(s.spec?.ports, want);
    assert.equal(s.spec?.type, 'ClusterIP');
  });
}

test('Service type and annotations', () => {
  const s = render({ service: { type: 'LoadBalancer', annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' } } }).service;
  assert.equal(s.spec?.type, 'LoadBalancer');
  assert.deepEqual(s.metadata?.annotations, { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' });
  assert.equal(render({}).service.metadata?.annotations, undefined);
});

test('container ports are named after their protocol', () => {
  assert.deepEqual(server(render({})).ports, [
    { name: 'http', containerPort: 8080, protocol: 'TCP' },
    { name: 'grpc', containerPort: 8081, protocol: 'TCP' },
  ]);
});

test('s3 with credentials: fetcher into an emptyDir, secret keys as references, model read-only in the server', () => {
  const c = render({ model: { uri: 's3://bkt/fraud/v7', format: 'xgboost', credentialsSecret: 's3-creds' } });
  const f = fetcher(c)!;
  assert.deepEqual(f.args, ['s3://bkt/fraud/v7', '/mnt/models']);
  assert.equal(f.image, defaultRenderConfig.modelFetcherImage);
  assert.deepEqual(f.volumeMounts, [{ name: 'model', mountPath: '/mnt/models' }]);
  assert.deepEqual(f.env, [
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_ACCESS_KEY_ID' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_SECRET_ACCESS_KEY' } } },
    { name: 'AWS_SESSION_TOKEN', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_SESSION_TOKEN', optional: true } } },
    { name: 'AWS_DEFAULT_REGION', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_DEFAULT_REGION', optional: true } } },
    { name: 'AWS_ENDPOINT_URL', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_ENDPOINT_URL', optional: true } } },
  ]);
  assert.deepEqual(podOf(c).volumes?.find((v) => v.name === 'model'), { name: 'model', emptyDir: {} });
  assert.deepEqual(server(c).volumeMounts?.find((m) => m.name === 'model'), { name: 'model', mountPath: '/mnt/models', readOnly: true });
  assert.equal(server(c).env?.some((e) => e.valueFrom?.secretKeyRef !== undefined), false, 'the server never sees the credentials');
});

test('s3 and https without credentials: no env on the fetcher', () => {
  assert.equal(fetcher(render({}))?.env, undefined);
  assert.equal(fetcher(render({ model: { uri: 'https://h.example.com/m.joblib', format: 'sklearn' } }))?.env, undefined);
});

test('gs with credentials: the key file is mounted in the fetcher only', () => {
  const c = render({ model: { uri: 'gs://bkt/m', format: 'onnx', credentialsSecret: 'gcs' } });
  const f = fetcher(c)!;
  assert.deepEqual(f.env, [{ name: 'GOOGLE_APPLICATION_CREDENTIALS', value: '/var/run/secrets/modelship/credentials/service-account.json' }]);
  assert.ok(f.volumeMounts?.some((m) => m.name === 'model-credentials' && m.readOnly === true));
  assert.deepEqual(podOf(c).volumes?.find((v) => v.name === 'model-credentials'), {
    name: 'model-credentials',
    secret: { secretName: 'gcs', items: [{ key: 'service-account.json', path: 'service-account.json' }] },
  });
  assert.equal(server(c).volumeMounts?.some((m) => m.name === 'model-credentials'), false);
});

test('hf with a token: HF_TOKEN by reference', () => {
  const f = fetcher(render({ model: { uri: 'hf://org/llm', format: 'llm', credentialsSecret: 'hf' } }))!;
  assert.deepEqual(f.env, [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hf', key: 'HF_TOKEN' } } }]);
});

const pvcs: Array<[string, string, object]> = [
  ['with a path', 'pvc://model-store/churn/v2/', { name: 'model', mountPath: '/mnt/models', readOnly: true, subPath: 'churn/v2' }],
  ['the whole claim', 'pvc://model-store', { name: 'model', mountPath: '/mnt/models', readOnly: true }],
];
for (const [name, uri, mount] of pvcs) {
  test(`pvc ${name}: the claim is mounted read-only, nothing is downloaded`, () => {
    const c = render({ model: { uri, format: 'lightgbm' } });
    assert.equal(podOf(c).initContainers, undefined);
    assert.deepEqual(podOf(c).volumes?.find((v) => v.name === 'model'), {
      name: 'model',
      persistentVolumeClaim: { claimName: 'model-store', readOnly: true },
    });
    assert.deepEqual(server(c).volumeMounts?.find((m) => m.name === 'model'), mount);
  });
}

test('restricted security context on the pod and on every container', () => {
  for (const c of [render({}), render({ model: { uri: 'hf://o/m', format: 'llm' }, resources: gpu })]) {
    assert.deepEqual(podOf(c).securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const container of [...podOf(c).containers, ...(podOf(c).initContainers ?? [])]) {
      const sc = container.securityContext!;
      assert.equal(sc.allowPrivilegeEscalation, false, container.name);
      assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, container.name);
      assert.equal(sc.runAsNonRoot, true, container.name);
      assert.ok((sc.runAsUser ?? 1) > 0, container.name);
    }
  }
});

const FORBIDDEN = ['privileged', 'hostPath', 'hostNetwork', 'hostPID', 'hostIPC', 'hostPort', 'hostUsers', 'procMount', 'add'];
function forbiddenKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => forbiddenKeys(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [...(FORBIDDEN.includes(k) ? [`${path}.${k}`] : []), ...forbiddenKeys(v, `${path}.${k}`)]);
}

test('privileged, hostPath, hostNetwork, hostPID and friends never appear in what is rendered', () => {
  const specs: Array<Partial<ModelDeploymentSpec>> = [
    {},
    { model: { uri: 'pvc://store/m', format: 'onnx' }, runtime: { protocol: 'grpc' } },
    { model: { uri: 'hf://o/m', format: 'llm', credentialsSecret: 'hf' }, resources: gpu, replicas: 2 },
    { model: { uri: 'gs://bkt/m', format: 'custom', credentialsSecret: 'g' }, runtime: { image: 'i', command: ['x'] } },
  ];
  const examples = loadExamples().map((e) => {
    const r = validateModelDeployment(e.object);
    assert.ok(r.ok);
    return renderChildren({ ...r.value, metadata: { ...r.value.metadata, namespace: 'ml' } }, defaultRenderConfig);
  });
  for (const c of [...specs.map((s) => render(s)), ...examples]) assert.deepEqual(forbiddenKeys(c), []);
});

test('pass-through fields stay inside their own field', () => {
  // Affinity is copied as is; even a stray key inside it cannot reach the pod spec.
  const c = render({ scheduling: { affinity: { hostNetwork: true } as unknown as Record<string, never> } });
  assert.equal(podOf(c).hostNetwork, undefined);
});

test('topology spread: zones and hosts by default, the user list replaces it, the config can turn it off', () => {
  const def = podOf(render({})).topologySpreadConstraints;
  assert.deepEqual(def?.map((t) => [t.topologyKey, t.whenUnsatisfiable, t.maxSkew]), [
    ['topology.kubernetes.io/zone', 'ScheduleAnyway', 1],
    ['kubernetes.io/hostname', 'ScheduleAnyway', 1],
  ]);
  assert.deepEqual(def?.[0]?.labelSelector, { matchLabels: { 'app.kubernetes.io/name': 'model-server', 'app.kubernetes.io/instance': 'demo' } });
  const mine = [{ maxSkew: 2, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule' }];
  assert.deepEqual(podOf(render({ scheduling: { topologySpreadConstraints: mine } })).topologySpreadConstraints, mine);
  assert.equal(podOf(render({}, { ...defaultRenderConfig, defaultTopologySpread: false })).topologySpreadConstraints, undefined);
});

test('scheduling fields are passed to the pod', () => {
  const tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
  const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['gpu'] }] }] } } };
  const p = podOf(render({ scheduling: { nodeSelector: { pool: 'gpu' }, tolerations, affinity, priorityClassName: 'high' } }));
  assert.deepEqual(p.nodeSelector, { pool: 'gpu' });
  assert.deepEqual(p.tolerations, tolerations);
  assert.deepEqual(p.affinity, affinity);
  assert.equal(p.priorityClassName, 'high');
});

test('pod settings: service account, pull secrets, grace period, labels and annotations', () => {
  const c = render({
    pod: {
      serviceAccountName: 'reader',
      imagePullSecrets: [{ name: 'regcred' }],
      terminationGracePeriodSeconds: 90,
      labels: { team: 'risk' },
      annotations: { 'prometheus.io/scrape': 'true' },
    },
  });
  const p = podOf(c);
  assert.equal(p.serviceAccountName, 'reader');
  assert.equal(p.automountServiceAccountToken, undefined);
  assert.deepEqual(p.imagePullSecrets, [{ name: 'regcred' }]);
  assert.equal(p.terminationGracePeriodSeconds, 90);
  const meta = c.deployment.spec!.template.metadata!;
  assert.equal(meta.labels?.['team'], 'risk');
  assert.equal(meta.labels?.['app.kubernetes.io/instance'], 'demo');
  assert.equal(meta.annotations?.['prometheus.io/scrape'], 'true');
  assert.equal(c.deployment.metadata?.labels?.['team'], undefined, 'pod labels stay on the pods');
});

test('without a service account the pod gets no API token and no service links', () => {
  const p = podOf(render({}));
  assert.equal(p.automountServiceAccountToken, false);
  assert.equal(p.enableServiceLinks, false);
  assert.equal(p.serviceAccountName, undefined);
});

test('the pod template says which model it serves, and servedModelFromTemplate reads it back', () => {
  const c = render({ model: { uri: 's3://bkt/fraud/v7', format: 'xgboost', version: '7' } });
  const template = c.deployment.spec!.template;
  assert.equal(template.metadata?.annotations?.[MODEL_URI_ANNOTATION], 's3://bkt/fraud/v7');
  assert.deepEqual(servedModelFromTemplate(template), {
    uri: 's3://bkt/fraud/v7',
    format: 'xgboost',
    version: '7',
    runtime: 'mlserver',
    image: 'docker.io/seldonio/mlserver:1.6.1',
  });
  assert.deepEqual(servedModelFromTemplate(undefined), {});
});

test('resources are passed to the server container, quantities as strings', () => {
  assert.deepEqual(server(render({ resources: { requests: { cpu: 2, memory: '4Gi' }, limits: { 'nvidia.com/gpu': 1 } } })).resources, {
    requests: { cpu: '2', memory: '4Gi' },
    limits: { 'nvidia.com/gpu': '1' },
  });
  assert.equal(server(render({})).resources, undefined);
});

test('runtimes that need shared memory get a memory-backed /dev/shm', () => {
  const has = (c: DesiredChildren) => server(c).volumeMounts?.some((m) => m.mountPath === '/dev/shm') ?? false;
  assert.equal(has(render({ model: { uri: 'hf://o/m', format: 'llm' } })), true);
  assert.equal(has(render({ model: { uri: 's3://bkt/m', format: 'onnx' } })), true);
  assert.equal(has(render({})), false);
  assert.deepEqual(podOf(render({ model: { uri: 'hf://o/m', format: 'llm' } })).volumes?.find((v) => v.name === 'dshm'), { name: 'dshm', emptyDir: { medium: 'Memory' } });
});

test('the operator config replaces runtime and fetcher images', () => {
  const config: RenderConfig = { ...defaultRenderConfig, runtimeImages: { mlserver: 'mirror/mlserver:1' }, modelFetcherImage: 'mirror/fetch:2' };
  const c = render({}, config);
  assert.equal(server(c).image, 'mirror/mlserver:1');
  assert.equal(fetcher(c)?.image, 'mirror/fetch:2');
});

test('render is pure: same input, same output, input untouched', () => {
  const r = validateModelDeployment(mdep({ resources: gpu, replicas: 2 }));
  assert.ok(r.ok);
  const md = r.value;
  const before = structuredClone(md);
  const a = renderChildren(md, defaultRenderConfig);
  const b = renderChildren(md, defaultRenderConfig);
  assert.deepEqual(a, b);
  assert.deepEqual(md, before);
});

