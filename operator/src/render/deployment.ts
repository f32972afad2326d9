// The Deployment that runs the model server.
import type {
  V1Container,
  V1ContainerPort,
  V1Deployment,
  V1PodSpec,
  V1ResourceRequirements,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { ModelDeployment, ResourceRequirements } from '../api/types.ts';
import { resolveRuntime } from '../runtimes/index.ts';
import type { ResolvedRuntime } from '../runtimes/index.ts';
import type { RenderConfig } from './config.ts';
import {
  MODEL_FORMAT_ANNOTATION,
  MODEL_URI_ANNOTATION,
  MODEL_VERSION_ANNOTATION,
  RUNTIME_ANNOTATION,
  SERVER_CONTAINER,
  selectorLabels,
  standardLabels,
} from './labels.ts';
import { childMetadata } from './metadata.ts';
import { modelPieces } from './model-source.ts';
import { containerSecurityContext, podSecurityContext } from './security.ts';

export const SHM_VOLUME = 'dshm';

function toResourceRequirements(r: ResourceRequirements | undefined): V1ResourceRequirements | undefined {
  if (r === undefined) return undefined;
  const out: V1ResourceRequirements = {};
  const toStrings = (m: Record<string, number | string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
  if (r.requests !== undefined && Object.keys(r.requests).length > 0) out.requests = toStrings(r.requests);
  if (r.limits !== undefined && Object.keys(r.limits).length > 0) out.limits = toStrings(r.limits);
  return out.requests === undefined && out.limits === undefined ? undefined : out;
}

function containerPorts(rt: ResolvedRuntime): V1ContainerPort[] {
  const ports: V1ContainerPort[] = [];
  if (rt.ports.http !== undefined) ports.push({ name: 'http', containerPort: rt.ports.http, protocol: 'TCP' });
  if (rt.ports.grpc !== undefined) ports.push({ name: 'grpc', containerPort: rt.ports.grpc, protocol: 'TCP' });
  return ports;
}

/** Spread across zones, then hosts; ScheduleAnyway, so a small cluster still schedules. */
export function defaultTopologySpread(md: ModelDeployment): V1TopologySpreadConstraint[] {
  return ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: selectorLabels(md) },
    matchLabelKeys: ['pod-template-hash'],
  }));
}

export function podTemplateAnnotations(md: ModelDeployment, rt: ResolvedRuntime): Record<string, string> {
  const annotations: Record<string, string> = {
    ...md.spec.pod?.annotations,
    [MODEL_URI_ANNOTATION]: md.spec.model.uri,
    [MODEL_FORMAT_ANNOTATION]: md.spec.model.format,
    [RUNTIME_ANNOTATION]: rt.name,
  };
  if (md.spec.model.version !== undefined) annotations[MODEL_VERSION_ANNOTATION] = md.spec.model.version;
  return annotations;
}

/** md must already carry its defaults (withDefaults). */
export function renderDeployment(md: ModelDeployment, config: RenderConfig): V1Deployment {
  const spec = md.spec;
  const rt = resolveRuntime(spec, config, md.metadata.name ?? 'model');
  const model = modelPieces(spec.model, config);

  const volumes: V1Volume[] = [...model.volumes];
  const mounts: V1VolumeMount[] = [...model.serverMounts];
  if (rt.sharedMemory) {
    volumes.push({ name: SHM_VOLUME, emptyDir: { medium: 'Memory' } });
    mounts.push({ name: SHM_VOLUME, mountPath: '/dev/shm' });
  }

  const server: V1Container = { name: SERVER_CONTAINER, image: rt.image };
  if (rt.command !== undefined) server.command = rt.command;
  if (rt.args.length > 0) server.args = rt.args;
  if (rt.env.length > 0) server.env = rt.env;
  server.ports = containerPorts(rt);
  const resources = toResourceRequirements(spec.resources);
  if (resources !== undefined) server.resources = resources;
  server.readinessProbe = rt.readinessProbe;
  server.livenessProbe = rt.livenessProbe;
  server.startupProbe = rt.startupProbe;
  server.volumeMounts = mounts;
  server.securityContext = containerSecurityContext(rt.runAsUser);
  server.terminationMessagePolicy = 'FallbackToLogsOnError';

  const pod: V1PodSpec = { containers: [server] };
  if (model.initContainers.length > 0) pod.initContainers = model.initContainers;
  pod.volumes = volumes;
  pod.securityContext = podSecurityContext();
  // A model server needs no API access and no service environment variables.
  if (spec.pod?.serviceAccountName !== undefined) pod.serviceAccountName = spec.pod.serviceAccountName;
  else pod.automountServiceAccountToken = false;
  pod.enableServiceLinks = false;
  if (spec.pod?.imagePullSecrets !== undefined) pod.imagePullSecrets = spec.pod.imagePullSecrets;
  if (spec.pod?.terminationGracePeriodSeconds !== undefined) pod.terminationGracePeriodSeconds = spec.pod.terminationGracePeriodSeconds;
  const sched = spec.scheduling;
  if (sched?.nodeSelector !== undefined) pod.nodeSelector = sched.nodeSelector;
  if (sched?.tolerations !== undefined) pod.tolerations = sched.tolerations;
  if (sched?.affinity !== undefined) pod.affinity = sched.affinity;
  if (sched?.topologySpreadConstraints !== undefined && sched.topologySpreadConstraints.length > 0) {
    pod.topologySpreadConstraints = sched.topologySpreadConstraints;
  } else if (config.defaultTopologySpread) {
    pod.topologySpreadConstraints = defaultTopologySpread(md);
  }
  if (sched?.priorityClassName !== undefined) pod.priorityClassName = sched.priorityClassName;

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(md),
    spec: {
      selector: { matchLabels: selectorLabels(md) },
      template: {
        metadata: {
          labels: { ...spec.pod?.labels, ...standardLabels(md) },
          annotations: podTemplateAnnotations(md, rt),
        },
        spec: pod,
      },
    },
  };
  const dspec = deployment.spec!;
  // With autoscaling the HPA owns the size: sending replicas would fight it.
  if (spec.autoscaling === undefined) dspec.replicas = spec.replicas ?? 1;
  dspec.strategy = {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: spec.rollout?.maxSurge ?? '25%', maxUnavailable: spec.rollout?.maxUnavailable ?? 0 },
  };
  if (spec.rollout?.progressDeadlineSeconds !== undefined) dspec.progressDeadlineSeconds = spec.rollout.progressDeadlineSeconds;
  return deployment;
}
