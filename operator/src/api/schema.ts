// The ModelDeployment v1alpha1 schema: the single source of truth. The CRD (generate-crd.ts), the
// TypeScript types (generate-types.ts) and the operator's own validation (validate.ts) all derive
// from this module. Keys starting with `x-modelship-` only steer the type generator and are
// stripped from the CRD.

import { CREDENTIAL_SCHEMES, NO_SECRETS_CEL, URI_SECRET_MESSAGE } from './model-uri.ts';

export const GROUP = 'serving.modelship.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ModelDeployment';
export const LIST_KIND = 'ModelDeploymentList';
export const PLURAL = 'modeldeployments';
export const SINGULAR = 'modeldeployment';
export const SHORT_NAMES = ['mdep'];
export const CATEGORIES = ['modelship'];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

export const MODEL_FORMATS = [
  'sklearn',
  'xgboost',
  'lightgbm',
  'mlflow',
  'onnx',
  'pytorch',
  'tensorflow',
  'tensorrt',
  'huggingface',
  'llm',
  'custom',
] as const;

export const PROTOCOLS = ['http', 'grpc'] as const;
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;
export const CONDITION_TYPES = ['Ready', 'Reconciling', 'Stalled', 'Available', 'Progressing'] as const;
export const ROLLOUT_STRATEGIES = ['RollingUpdate', 'Canary'] as const;
export const ROLLOUT_PHASES = ['Progressing', 'Paused', 'Promoting', 'RolledBack', 'Completed'] as const;
/** Which way the autoscaler last scaled (status.autoscaling.lastScale.direction). */
export const SCALE_DIRECTIONS = ['Up', 'Down'] as const;

export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode;
  enum?: readonly (string | number)[];
  default?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  anyOf?: SchemaNode[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelRule[];
  /** The TypeScript type to emit for this node instead of deriving one. */
  'x-modelship-ts-type'?: string;
  /** Emit this object as a named, exported interface. */
  'x-modelship-ts-name'?: string;
}

/** "a", "a and b", "a, b and c": for messages. */
export function wordList(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

// Rules that span fields. Each one is enforced twice with the same message: by the API server
// (CEL, below) and by the operator (semantic.ts). `field` is where the operator reports it.
export const CROSS_FIELD_RULES = {
  nameIsDnsLabel: {
    field: 'metadata.name',
    rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')",
    message:
      'the name must be at most 63 characters of lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit, because the Service gets the same name',
  },
  replicasWithAutoscaling: {
    field: 'spec.replicas',
    rule: '!(has(self.replicas) && has(self.autoscaling))',
    message:
      'set either replicas or autoscaling, not both: with autoscaling the HorizontalPodAutoscaler decides the number of replicas',
    fieldPath: '.replicas',
  },
  customNeedsImage: {
    field: 'spec.runtime.image',
    rule: "self.model.format != 'custom' || (has(self.runtime) && has(self.runtime.image))",
    message: 'runtime.image is required when model.format is custom, because there is no built-in runtime for it',
    fieldPath: '.runtime.image',
  },
  minLeMax: {
    field: 'spec.autoscaling.minReplicas',
    rule: '!has(self.minReplicas) || self.minReplicas <= self.maxReplicas',
    message: 'minReplicas must be less than or equal to maxReplicas',
    fieldPath: '.minReplicas',
  },
  surgeAndUnavailableNotBothZero: {
    field: 'spec.rollout.maxUnavailable',
    rule: "!(has(self.maxSurge) && has(self.maxUnavailable) && string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])",
    message: 'maxSurge and maxUnavailable cannot both be 0, or a rollout could never replace a pod',
    fieldPath: '.maxUnavailable',
  },
  canaryNeedsStrategy: {
    field: 'spec.rollout.canary',
    rule: "(has(self.strategy) && self.strategy == 'Canary') == has(self.canary)",
    message: 'set rollout.canary exactly when rollout.strategy is Canary',
    fieldPath: '.canary',
  },
  pdbOneOf: {
    field: 'spec.availability.maxUnavailable',
    rule: '!(has(self.minAvailable) && has(self.maxUnavailable))',
    message: 'set either minAvailable or maxUnavailable, not both',
    fieldPath: '.maxUnavailable',
  },
  credentialsNeedRemoteUri: {
    field: 'spec.model.credentialsSecret',
    rule: `!has(self.credentialsSecret) || ${CREDENTIAL_SCHEMES.map((s) => `self.uri.startsWith('${s}://')`).join(' || ')}`,
    message: `credentialsSecret can only be used with ${wordList(CREDENTIAL_SCHEMES.map((s) => `${s}://`))} model URIs; remove it for https:// and pvc:// URIs`,
    fieldPath: '.credentialsSecret',
  },
  uriCarriesNoSecrets: {
    field: 'spec.model.uri',
    rule: NO_SECRETS_CEL,
    message: `the model URI ${URI_SECRET_MESSAGE}`,
    fieldPath: '.uri',
  },
  reservedPodLabels: {
    field: 'spec.pod.labels',
    rule: "self.all(k, !(k in ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/component']) && !k.startsWith('serving.modelship.dev/'))",
    message:
      'labels app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/managed-by, app.kubernetes.io/component and serving.modelship.dev/* are set by the operator and cannot be set here',
  },
  reservedPodAnnotations: {
    field: 'spec.pod.annotations',
    rule: "self.all(k, !k.startsWith('serving.modelship.dev/'))",
    message: 'annotations serving.modelship.dev/* are set by the operator and cannot be set here',
  },
} as const satisfies Record<string, CelRule & { field: string }>;

function cel(r: CelRule & { field: string }): CelRule {
  const out: CelRule = { rule: r.rule, message: r.message };
  if (r.fieldPath !== undefined) out.fieldPath = r.fieldPath;
  return out;
}

/** Plain-words hints for `pattern`, keyed by the pattern; validate.ts uses them in messages. */
export const PATTERN_HINTS = new Map<string, string>();

function patterned(pattern: string, hint: string): string {
  PATTERN_HINTS.set(pattern, hint);
  return pattern;
}

const MODEL_URI_PATTERN = patterned(
  '^((s3|gs)://[a-z0-9][-a-z0-9._]*[a-z0-9](/.*)?|https://[^/\\s]+(/\\S*)?|hf://[A-Za-z0-9][-A-Za-z0-9._]*/[A-Za-z0-9][-A-Za-z0-9._]*(/.*)?|pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[^\\s]*)?)$',
  'a URI starting with s3://BUCKET/PATH, gs://BUCKET/PATH, https://HOST/PATH, hf://ORG/MODEL or pvc://CLAIM/PATH',
);
const DNS_SUBDOMAIN = patterned(
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  'a Kubernetes object name: lowercase letters, digits, dashes and dots, starting and ending with a letter or digit',
);
const LABEL_VALUE = patterned(
  '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$',
  'at most 63 letters, digits, dashes, underscores and dots, starting and ending with a letter or digit',
);
const PERCENT = patterned('^(100|[1-9]?[0-9])%$', 'a whole number or a percentage between 0% and 100%, like 1 or 25%');
const QUANTITY = patterned(
  // Kubernetes' published pattern allows a decimal exponent ("1e.5"), which its parser refuses.
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?[0-9]+))?$',
  'a Kubernetes quantity, like 500m, 2, 4Gi or 1',
);
const ENV_NAME = patterned('^[-._a-zA-Z][-._a-zA-Z0-9]*$', 'letters, digits, dashes, underscores and dots, not starting with a digit');

function str(description: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'string', description, ...extra };
}

function int32(description: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'integer', format: 'int32', description, ...extra };
}

function int64(description: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'integer', format: 'int64', description, ...extra };
}

function obj(description: string, properties: Record<string, SchemaNode>, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'object', description, properties, ...extra };
}

function stringMap(description: string, maxProperties: number): SchemaNode {
  return {
    type: 'object',
    description,
    maxProperties,
    additionalProperties: { type: 'string', maxLength: 4096 },
    'x-modelship-ts-type': 'Record<string, string>',
  };
}

function intOrPercent(description: string): SchemaNode {
  return {
    description,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    minimum: 0,
    pattern: PERCENT,
    'x-modelship-ts-type': 'number | string',
  };
}

/** A Kubernetes type copied into our spec as is; the API server and kubelet validate its inside. */
function passThrough(description: string, tsType: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return {
    type: 'object',
    description,
    'x-kubernetes-preserve-unknown-fields': true,
    'x-modelship-ts-type': tsType,
    ...extra,
  };
}

function quantityMap(description: string): SchemaNode {
  return {
    type: 'object',
    description,
    maxProperties: 32,
    additionalProperties: {
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      pattern: QUANTITY,
    },
    'x-modelship-ts-type': 'Record<string, number | string>',
  };
}

function probe(description: string): SchemaNode {
  const seconds = (what: string) => int32(what, { minimum: 0, maximum: 86400 });
  return obj(
    description,
    {
      httpGet: passThrough('HTTP GET request to perform (core/v1 HTTPGetAction): path, port, scheme, httpHeaders.', 'V1HTTPGetAction'),
      grpc: passThrough('gRPC health check to perform (core/v1 GRPCAction): port and optional service.', 'V1GRPCAction'),
      tcpSocket: passThrough('TCP connection to open (core/v1 TCPSocketAction): port.', 'V1TCPSocketAction'),
      exec: passThrough('Command to run in the container (core/v1 ExecAction): command.', 'V1ExecAction'),
      initialDelaySeconds: seconds('Seconds after the container starts before the first probe.'),
      periodSeconds: int32('How often, in seconds, to probe.', { minimum: 1, maximum: 86400 }),
      timeoutSeconds: int32('Seconds after which one probe attempt times out.', { minimum: 1, maximum: 86400 }),
      successThreshold: int32('Consecutive successes needed to count as passing after a failure.', { minimum: 1, maximum: 1000 }),
      failureThreshold: int32('Consecutive failures needed to count as failing.', { minimum: 1, maximum: 100000 }),
      terminationGracePeriodSeconds: int64('Grace period used when this probe kills the container.', { minimum: 1 }),
    },
    { 'x-modelship-ts-name': 'ProbeOverride' },
  );
}

const modelSpec = obj(
  'The model to serve: where it is stored and in which format.',
  {
    uri: str(
      'Where the model is stored. s3://BUCKET/PATH, gs://BUCKET/PATH, https://HOST/PATH and hf://ORG/MODEL are downloaded by an init container; pvc://CLAIM/PATH mounts the PersistentVolumeClaim CLAIM (read-only). The server sees the model at /mnt/models.',
      { minLength: 1, maxLength: 2048, pattern: MODEL_URI_PATTERN },
    ),
    format: str(
      'The model format. It picks the built-in runtime: sklearn, xgboost, lightgbm and mlflow run on MLServer; onnx, pytorch, tensorflow and tensorrt on Triton; huggingface and llm on vLLM; custom runs runtime.image.',
      { enum: MODEL_FORMATS, 'x-modelship-ts-type': 'ModelFormat' },
    ),
    version: str('A version label for humans, shown in status and by kubectl get. Changing it rolls the pods.', {
      maxLength: 63,
      pattern: LABEL_VALUE,
    }),
    credentialsSecret: str(
      'Name of a Secret in the same namespace with the credentials to download the model. s3://: keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL; gs://: key service-account.json; hf://: key HF_TOKEN. Values are only ever referenced, never copied.',
      { maxLength: 253, pattern: DNS_SUBDOMAIN },
    ),
  },
  {
    required: ['uri', 'format'],
    'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.credentialsNeedRemoteUri), cel(CROSS_FIELD_RULES.uriCarriesNoSecrets)],
    'x-modelship-ts-name': 'ModelSpec',
  },
);

const portNumber = (what: string, extra: Partial<SchemaNode> = {}) => int32(what, { minimum: 1, maximum: 65535, ...extra });

const runtimeSpec = obj(
  'Overrides for the serving runtime chosen by model.format. Everything is optional unless model.format is custom, which needs image.',
  {
    image: str('Container image of the model server. Replaces the built-in runtime image; required when model.format is custom.', {
      minLength: 1,
      maxLength: 1024,
    }),
    command: {
      type: 'array',
      description: 'Entrypoint of the server container. Replaces the image entrypoint.',
      maxItems: 32,
      items: { type: 'string', description: 'One part of the command.', maxLength: 4096 },
      'x-kubernetes-list-type': 'atomic',
    },
    args: {
      type: 'array',
      description:
        'Extra arguments for the model server, appended to the built-in runtime arguments (for example --max-model-len=8192 for vLLM). With model.format custom they are the only arguments.',
      maxItems: 128,
      items: { type: 'string', description: 'One argument.', maxLength: 4096 },
      'x-kubernetes-list-type': 'atomic',
    },
    env: {
      type: 'array',
      description: 'Extra environment variables for the server container (core/v1 EnvVar). A variable with the same name as a built-in one replaces it.',
      maxItems: 128,
      items: obj(
        'An environment variable: name plus value or valueFrom.',
        {
          name: str('Name of the variable.', { minLength: 1, maxLength: 256, pattern: ENV_NAME }),
          value: str('Value of the variable.', { maxLength: 32768 }),
          valueFrom: passThrough(
            'Source of the value (core/v1 EnvVarSource): secretKeyRef, configMapKeyRef, fieldRef or resourceFieldRef.',
            'V1EnvVarSource',
          ),
        },
        { required: ['name'], 'x-modelship-ts-type': 'V1EnvVar' },
      ),
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
    ports: obj(
      'Container ports the server listens on. Defaults come from the runtime (MLServer 8080/8081, Triton 8000/8001, vLLM 8080, custom 8080 or 9000).',
      {
        http: portNumber('Port of the HTTP (REST) endpoint.'),
        grpc: portNumber('Port of the gRPC endpoint.'),
      },
      { 'x-modelship-ts-name': 'RuntimePorts' },
    ),
    protocol: str('Protocol of the Service port spec.service.port and of the status URL: http or grpc. Default http.', {
      enum: PROTOCOLS,
      'x-modelship-ts-type': 'Protocol',
    }),
    runAsUser: int64(
      'User ID the server container runs as. Built-in runtimes set a non-root user; set this when a custom image would otherwise run as root.',
      // The API server takes user IDs up to 2^31 - 1 only.
      { minimum: 1, maximum: 2147483647 },
    ),
    readinessProbe: probe('Readiness probe (core/v1 Probe). Fields set here replace the runtime default field by field; a handler (httpGet, grpc, tcpSocket, exec) replaces the default handler.'),
    livenessProbe: probe('Liveness probe (core/v1 Probe), merged over the runtime default like readinessProbe.'),
    startupProbe: probe(
      'Startup probe (core/v1 Probe), merged over the runtime default like readinessProbe. Raise failureThreshold when a large model takes long to load.',
    ),
  },
  { 'x-modelship-ts-name': 'RuntimeSpec' },
);

const resourcesSpec = obj(
  'Compute resources of the server container (core/v1 ResourceRequirements). Extended resources such as nvidia.com/gpu go in limits; pods that request GPUs get GPU-safe rollouts.',
  {
    requests: quantityMap('Minimum resources, for example cpu: "1", memory: 2Gi.'),
    limits: quantityMap('Maximum resources, for example memory: 4Gi, nvidia.com/gpu: 1.'),
  },
  { 'x-modelship-ts-name': 'ResourceRequirements' },
);

const autoscalingSpec = obj(
  'Horizontal autoscaling. When set, the operator creates an autoscaling/v2 HorizontalPodAutoscaler for the Deployment and spec.replicas must be unset. With no target at all, the CPU target defaults to 80%.',
  {
    minReplicas: int32('Lowest number of replicas. Default 1.', { minimum: 1, maximum: 10000 }),
    maxReplicas: int32('Highest number of replicas.', { minimum: 1, maximum: 10000 }),
    targetCPUUtilizationPercentage: int32('Target average CPU use, as a percentage of the CPU request.', { minimum: 1, maximum: 1000 }),
    targetMemoryUtilizationPercentage: int32('Target average memory use, as a percentage of the memory request.', {
      minimum: 1,
      maximum: 1000,
    }),
    metrics: {
      type: 'array',
      description:
        'Extra metrics (autoscaling/v2 MetricSpec), passed to the HorizontalPodAutoscaler as they are, after the CPU and memory targets. Each has a type (Resource, Pods, Object, External or ContainerResource) and the matching field.',
      maxItems: 16,
      items: passThrough('One autoscaling/v2 MetricSpec.', 'V2MetricSpec', {
        required: ['type'],
        properties: {
          type: str('Metric source type.', { enum: ['Resource', 'Pods', 'Object', 'External', 'ContainerResource'] }),
        },
      }),
      'x-kubernetes-list-type': 'atomic',
    },
    behavior: obj(
      'Scaling behavior (autoscaling/v2 HorizontalPodAutoscalerBehavior), passed to the HorizontalPodAutoscaler as it is.',
      {
        scaleUp: passThrough('Rules for scaling up (autoscaling/v2 HPAScalingRules): stabilizationWindowSeconds, selectPolicy, policies.', 'V2HPAScalingRules'),
        scaleDown: passThrough('Rules for scaling down (autoscaling/v2 HPAScalingRules): stabilizationWindowSeconds, selectPolicy, policies.', 'V2HPAScalingRules'),
      },
      { 'x-modelship-ts-type': 'V2HorizontalPodAutoscalerBehavior' },
    ),
  },
  {
    required: ['maxReplicas'],
    'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.minLeMax)],
    'x-modelship-ts-name': 'AutoscalingSpec',
  },
);

const DURATION = patterned('^([0-9]+(ms|s|m|h))+$', 'a duration such as 30s, 5m or 1h30m');

const canarySpec = obj(
  'A canary without a service mesh: the new revision runs in a Deployment of its own beside the stable one, behind the same Service, and takes a share of the traffic by its share of the ready replicas (or by HTTPRoute weights when trafficRouting is set).',
  {
    steps: {
      type: 'array',
      description:
        'The shares of traffic the canary goes through, in order, before it is promoted. A step with a pause waits that long once its replicas are ready; a step without one waits for a person (the serving.modelship.dev/promote annotation, see docs/rollouts.md).',
      minItems: 1,
      maxItems: 10,
      items: obj(
        'One step of a canary.',
        {
          weight: int32('Percent of the traffic the canary takes at this step, 1 to 100.', { minimum: 1, maximum: 100 }),
          pause: str('How long to stay at this step once its replicas are ready, e.g. 30s, 5m. Without it the step waits for a manual promotion.', {
            maxLength: 32,
            pattern: DURATION,
          }),
        },
        { required: ['weight'], 'x-modelship-ts-name': 'CanaryStep' },
      ),
      'x-kubernetes-list-type': 'atomic',
    },
    readyTimeout: str('How long each step may take for its canary replicas to become ready before the canary counts as failed. Default 5m.', {
      maxLength: 32,
      pattern: DURATION,
    }),
    autoRollback: { type: 'boolean', description: 'Roll back by itself when the canary fails (crash loop, image pull, model fetch, deadline, readyTimeout). Default true.' },
    trafficRouting: obj(
      'Optional: split the traffic with a Gateway API HTTPRoute instead of by replica count.',
      {
        httpRouteRef: obj(
          'The HTTPRoute whose backend weights the operator writes. Its first rule sends to this model\'s Services; the operator sets the backends of that rule only.',
          {
            name: str('Name of the HTTPRoute, in the ModelDeployment\'s namespace.', { minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN }),
          },
          { required: ['name'], 'x-modelship-ts-name': 'HTTPRouteRef' },
        ),
      },
      { 'x-modelship-ts-name': 'TrafficRouting' },
    ),
  },
  { required: ['steps'], 'x-modelship-ts-name': 'CanarySpec' },
);

const rolloutSpec = obj(
  'How a new model or setting replaces running pods: a rolling update of the Deployment (the default), or a canary in a Deployment of its own.',
  {
    strategy: str('RollingUpdate (default): the Deployment replaces pods in place. Canary: the new revision takes traffic step by step (canary) and is promoted or rolled back.', {
      enum: ROLLOUT_STRATEGIES,
      'x-modelship-ts-type': 'RolloutStrategy',
    }),
    maxSurge: intOrPercent(
      'Pods allowed above the desired count during a rollout, as a number or a percentage. Default 25%, or 0 when the pods request GPUs, so a rollout never needs GPUs the cluster does not have.',
    ),
    maxUnavailable: intOrPercent(
      'Pods allowed to be unavailable during a rollout, as a number or a percentage. Default 0, or 1 when maxSurge ends up 0.',
    ),
    progressDeadlineSeconds: int32('Seconds a rollout may make no progress before it is reported as failed. Default 600.', {
      minimum: 1,
      maximum: 86400,
    }),
    autoRollback: {
      type: 'boolean',
      description:
        'With RollingUpdate: when the new revision fails (its pods crash-loop, cannot pull their image or fetch the model, or the progress deadline passes), return to the last revision that was fully serving. Default false.',
    },
    canary: canarySpec,
  },
  {
    'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.surgeAndUnavailableNotBothZero), cel(CROSS_FIELD_RULES.canaryNeedsStrategy)],
    'x-modelship-ts-name': 'RolloutSpec',
  },
);

const availabilitySpec = obj(
  'The PodDisruptionBudget that limits voluntary evictions (node drains). By default one is created with maxUnavailable 1 whenever more than one replica can run.',
  {
    enabled: {
      type: 'boolean',
      description: 'Set false to create no PodDisruptionBudget. Default true.',
    },
    minAvailable: intOrPercent('Pods that must stay available during evictions, as a number or a percentage.'),
    maxUnavailable: intOrPercent('Pods that may be unavailable during evictions, as a number or a percentage. Default 1.'),
  },
  {
    'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.pdbOneOf)],
    'x-modelship-ts-name': 'AvailabilitySpec',
  },
);

const serviceSpec = obj(
  'The Service in front of the model servers.',
  {
    type: str('Service type: ClusterIP, NodePort or LoadBalancer.', {
      enum: SERVICE_TYPES,
      default: 'ClusterIP',
      'x-modelship-ts-type': 'ServiceType',
    }),
    port: portNumber(
      'Service port of the main protocol (runtime.protocol). Default 80. The other protocol, if the runtime serves it, keeps its container port number.',
      { default: 80 },
    ),
    annotations: stringMap('Annotations for the Service, for example for a cloud load balancer.', 64),
  },
  { default: {}, 'x-modelship-ts-name': 'ServiceSpec' },
);

const schedulingSpec = obj(
  'Where the pods may run.',
  {
    nodeSelector: stringMap('Node labels a node must have to run the pods.', 64),
    tolerations: {
      type: 'array',
      description: 'Taints the pods tolerate (core/v1 Toleration), for example the taint of a GPU node pool.',
      maxItems: 32,
      items: obj(
        'One toleration.',
        {
          key: str('Taint key; empty with operator Exists matches every taint.', { maxLength: 317 }),
          operator: str('Exists or Equal. Default Equal.', { enum: ['Exists', 'Equal'] }),
          value: str('Taint value for operator Equal.', { maxLength: 63 }),
          effect: str('Taint effect to match: NoSchedule, PreferNoSchedule or NoExecute; empty matches all.', {
            enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'],
          }),
          tolerationSeconds: int64('For NoExecute: how long the pod stays bound after the taint appears.'),
        },
        { 'x-modelship-ts-type': 'V1Toleration' },
      ),
      'x-kubernetes-list-type': 'atomic',
    },
    affinity: passThrough('Node and pod affinity rules (core/v1 Affinity): nodeAffinity, podAffinity, podAntiAffinity.', 'V1Affinity'),
    topologySpreadConstraints: {
      type: 'array',
      description:
        'How to spread the pods (core/v1 TopologySpreadConstraint). When empty, the operator spreads them across zones and hosts (ScheduleAnyway), unless the operator config turns that off.',
      maxItems: 8,
      items: passThrough('One topology spread constraint: maxSkew, topologyKey, whenUnsatisfiable, labelSelector.', 'V1TopologySpreadConstraint', {
        required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
      }),
      'x-kubernetes-list-type': 'atomic',
    },
    priorityClassName: str('PriorityClass of the pods.', { maxLength: 253, pattern: DNS_SUBDOMAIN }),
  },
  { 'x-modelship-ts-name': 'SchedulingSpec' },
);

const podSpec = obj(
  'Settings of the pods that are not about the model server itself.',
  {
    serviceAccountName: str('ServiceAccount the pods run as, for example one bound to a cloud role that can read the model bucket.', {
      maxLength: 253,
      pattern: DNS_SUBDOMAIN,
    }),
    imagePullSecrets: {
      type: 'array',
      description: 'Secrets used to pull the images from private registries.',
      maxItems: 16,
      items: obj(
        'Reference to a Secret in the same namespace.',
        { name: str('Name of the Secret.', { minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN }) },
        { required: ['name'], 'x-modelship-ts-type': 'V1LocalObjectReference' },
      ),
      'x-kubernetes-list-type': 'atomic',
    },
    labels: {
      ...stringMap('Extra labels for the pods. The operator-owned labels cannot be set here.', 64),
      'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.reservedPodLabels)],
    },
    annotations: {
      ...stringMap('Extra annotations for the pods, for example for a metrics scraper.', 64),
      'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.reservedPodAnnotations)],
    },
    terminationGracePeriodSeconds: int64('Seconds a pod has to finish in-flight requests after it is asked to stop. Default 30.', {
      minimum: 0,
      maximum: 3600,
    }),
  },
  { 'x-modelship-ts-name': 'PodSpec' },
);

export const specSchema: SchemaNode = obj(
  'What to serve and how. Only model is required.',
  {
    model: modelSpec,
    runtime: runtimeSpec,
    resources: resourcesSpec,
    replicas: int32('Fixed number of replicas when autoscaling is not set. Default 1. Also set by kubectl scale.', {
      minimum: 0,
      maximum: 10000,
    }),
    autoscaling: autoscalingSpec,
    rollout: rolloutSpec,
    availability: availabilitySpec,
    service: serviceSpec,
    scheduling: schedulingSpec,
    pod: podSpec,
  },
  {
    required: ['model'],
    'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.replicasWithAutoscaling), cel(CROSS_FIELD_RULES.customNeedsImage)],
    'x-modelship-ts-name': 'ModelDeploymentSpec',
  },
);

const conditionSchema = obj(
  'One aspect of the current state (metav1.Condition).',
  {
    type: str('Condition type: Ready, Reconciling, Stalled, Available or Progressing.', {
      minLength: 1,
      maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
    observedGeneration: int64('The metadata.generation the condition was set for.', { minimum: 0 }),
    lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
    reason: str('Why, in one CamelCase word.', {
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: str('Why, in words for humans.', { maxLength: 32768 }),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'], 'x-modelship-ts-name': 'Condition' },
);

export const statusSchema: SchemaNode = obj(
  'What the operator observed. Written only by the operator.',
  {
    observedGeneration: int64('The metadata.generation this status describes; 0 until the operator has seen the object.', { minimum: 0 }),
    conditions: {
      type: 'array',
      description:
        'Ready summarises; Reconciling and Stalled follow kstatus (abnormal-true); Available and Progressing mirror the Deployment.',
      maxItems: 16,
      items: conditionSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    replicas: int32('Pods of the Deployment (all revisions). Read by the scale subresource.', { minimum: 0 }),
    readyReplicas: int32('Pods that are ready.', { minimum: 0 }),
    availableReplicas: int32('Pods that have been ready for at least minReadySeconds.', { minimum: 0 }),
    updatedReplicas: int32('Pods that run the current spec.', { minimum: 0 }),
    selector: str('Label selector of the pods, as a string, for the scale subresource and the HorizontalPodAutoscaler.', {
      maxLength: 1024,
    }),
    url: str('In-cluster URL of the Service.', { maxLength: 2048 }),
    model: obj(
      'The model the ready pods actually serve (it lags the spec during a rollout).',
      {
        uri: str('Model URI.', { maxLength: 2048 }),
        format: str('Model format.', { maxLength: 63 }),
        version: str('Model version label.', { maxLength: 63 }),
        runtime: str('Runtime name: mlserver, triton, vllm or custom.', { maxLength: 63 }),
        image: str('Server image.', { maxLength: 1024 }),
      },
      { 'x-modelship-ts-name': 'ServedModel' },
    ),
    revisions: {
      type: 'array',
      description: 'The revisions being served (at most two: the stable one and a canary), each in a Deployment of its own.',
      maxItems: 4,
      items: obj(
        'One revision: a hash of what defines the pods (model, runtime, resources, pod template).',
        {
          revision: str('The revision hash.', { maxLength: 32 }),
          role: str('stable or canary.', { enum: ['stable', 'canary'] }),
          deployment: str('The Deployment that runs it.', { maxLength: 253 }),
          model: str('Its model URI.', { maxLength: 2048 }),
          version: str('Its model version label.', { maxLength: 63 }),
          replicas: int32('Its pods, ready or not.', { minimum: 0 }),
          readyReplicas: int32('Its ready pods.', { minimum: 0 }),
          trafficPercent: int32('Its share of the traffic, in percent: of the ready endpoints behind the Service, or the HTTPRoute weight.', { minimum: 0, maximum: 100 }),
        },
        { 'x-modelship-ts-name': 'RevisionStatus' },
      ),
      'x-kubernetes-list-type': 'atomic',
    },
    rollout: obj(
      'The rollout of a new revision, once one has started.',
      {
        strategy: str('The strategy it runs with.', { enum: ROLLOUT_STRATEGIES, 'x-modelship-ts-type': 'RolloutStrategy' }),
        phase: str('Progressing, Paused, Promoting, RolledBack or Completed.', { enum: ROLLOUT_PHASES, 'x-modelship-ts-type': 'RolloutPhase' }),
        revision: str('The revision being rolled out (or rolled back).', { maxLength: 32 }),
        stableRevision: str('The revision that serves when the rollout is not complete.', { maxLength: 32 }),
        step: int32('Index of the canary step (0-based).', { minimum: 0 }),
        weight: int32('Percent of the traffic the canary takes at this step.', { minimum: 0, maximum: 100 }),
        stepStartedAt: str('When the step began.', { format: 'date-time' }),
        stepReadyAt: str('When the step\'s replicas became ready (its pause counts from then).', { format: 'date-time' }),
        reason: str('Why, in one CamelCase word.', { maxLength: 64 }),
        message: str('Why, in words.', { maxLength: 4096 }),
      },
      { 'x-modelship-ts-name': 'RolloutStatus' },
    ),
    history: {
      type: 'array',
      description: 'The last revisions that were fully serving, newest first (at most 5).',
      maxItems: 5,
      items: obj(
        'A revision that served every desired replica.',
        {
          revision: str('The revision hash.', { maxLength: 32 }),
          model: str('Its model URI.', { maxLength: 2048 }),
          version: str('Its model version label.', { maxLength: 63 }),
          deployment: str('The Deployment that ran it.', { maxLength: 253 }),
          replicaSet: str('The ReplicaSet of its pods (a rollback restores its template).', { maxLength: 253 }),
          servingSince: str('When it first served every desired replica.', { format: 'date-time' }),
        },
        { 'x-modelship-ts-name': 'HistoryEntry' },
      ),
      'x-kubernetes-list-type': 'atomic',
    },
    autoscaling: obj(
      'What the HorizontalPodAutoscaler decided, when autoscaling is set: the replicas it has and wants, its last scale and why it scales or not. It changes only when the autoscaler scales or its reasons change; the live metric values stay on the HorizontalPodAutoscaler.',
      {
        currentReplicas: int32('Replicas the autoscaler last saw.', { minimum: 0 }),
        desiredReplicas: int32('Replicas the autoscaler wants.', { minimum: 0 }),
        lastScale: obj(
          "The autoscaler's last change of the number of replicas.",
          {
            time: str('When the autoscaler last scaled.', { format: 'date-time' }),
            direction: str('Up or Down.', { enum: SCALE_DIRECTIONS }),
            from: int32('Replicas before, as last seen.', { minimum: 0 }),
            to: int32('Replicas after.', { minimum: 0 }),
          },
          { required: ['time'], 'x-modelship-ts-name': 'LastScale' },
        ),
        conditions: {
          type: 'array',
          description:
            "The HorizontalPodAutoscaler's conditions that say why it scales or does not: AbleToScale (ReadyForNewScale, ScaleDownStabilized, SucceededRescale, FailedUpdateScale...) and ScalingLimited (TooManyReplicas, TooFewReplicas, ScaleUpLimit, ScaleDownLimit, DesiredWithinRange), and ScalingActive when it is not True (no metrics, say).",
          maxItems: 8,
          items: obj(
            'One condition of the HorizontalPodAutoscaler, as it reports it.',
            {
              type: str('AbleToScale, ScalingLimited or ScalingActive.', { minLength: 1, maxLength: 316 }),
              status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
              reason: str('Why, in one CamelCase word.', { maxLength: 1024 }),
              message: str('Why, in words for humans.', { maxLength: 32768 }),
            },
            { required: ['type', 'status'], 'x-modelship-ts-name': 'AutoscalerCondition' },
          ),
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
        },
      },
      { 'x-modelship-ts-name': 'AutoscalingStatus' },
    ),
  },
  // The default: observedGeneration 0 until the operator's first status write. The API server
  // strips the status from a create and fills this in whenever it serves the object, so a model no
  // operator has seen yet (its queue is long, it is down, or no operator watches its namespace)
  // reads as kstatus InProgress ("generation is 1, but latest observed generation is 0") instead
  // of Current, which kstatus says of an object with no status at all, and Flux with it.
  // Atomic: the operator owns the whole status and writes all of it every time, so server-side
  // apply tracks one field (f:status) instead of every leaf of every condition. A status write
  // then costs kube-apiserver about 5.5 ms of CPU instead of 8, and each object is 1.2 KB smaller
  // in etcd and in every watch event (docs/performance.md, "The status is atomic"). The
  // conditions stay a map list keyed by type, which the API server still checks.
  { default: { observedGeneration: 0 }, 'x-kubernetes-map-type': 'atomic', 'x-modelship-ts-name': 'ModelDeploymentStatus' },
);

export const rootSchema: SchemaNode = obj(
  'ModelDeployment serves one machine-learning model: the operator keeps a Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget of the same name in shape.',
  {
    apiVersion: str('Versioned schema of this object: serving.modelship.dev/v1alpha1.'),
    kind: str('Kind of this object: ModelDeployment.'),
    metadata: { type: 'object' },
    spec: specSchema,
    status: statusSchema,
  },
  { required: ['spec'], 'x-kubernetes-validations': [cel(CROSS_FIELD_RULES.nameIsDnsLabel)] },
);

/**
 * A copy of the schema without the keys `drop` names, at every level (properties, items,
 * additionalProperties, anyOf), with `finish` run on each copied node: the CRD and ajv each want
 * the schema minus the other's keywords.
 */
export function withoutKeys(
  node: SchemaNode,
  drop: (key: string) => boolean,
  finish: (out: Record<string, unknown>, node: SchemaNode) => void = () => {},
): Record<string, unknown> {
  const walk = (n: SchemaNode) => withoutKeys(n, drop, finish);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (drop(key)) continue;
    if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as Record<string, SchemaNode>).map(([k, v]) => [k, walk(v)]));
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = walk(value as SchemaNode);
    } else if (key === 'anyOf') {
      out[key] = (value as SchemaNode[]).map(walk);
    } else {
      out[key] = value;
    }
  }
  finish(out, node);
  return out;
}
