// Rules the JSON schema cannot express. The cross-field ones mirror the CRD's CEL rules and share
// their messages (CROSS_FIELD_RULES), so the API server and the operator say the same thing.
// Input: an object that already passed schema validation.
import { effectiveRollout, isZeroIntOrPercent } from './defaults.ts';
import { kubernetesErrors } from './kubernetes-rules.ts';
import { isCredentialScheme, parseModelUri, uriScheme, URI_SECRET_MESSAGE } from './model-uri.ts';
import { CROSS_FIELD_RULES } from './schema.ts';
import type { FieldError } from './errors.ts';
import type { ModelDeployment, ProbeOverride } from './types.ts';
import { runtimeForFormat, runtimePorts } from '../runtimes/index.ts';

const RESERVED_LABELS = new Set([
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/component',
]);
const RESERVED_PREFIX = 'serving.modelship.dev/';
const NAME_RE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function rule(r: { field: string; message: string }): FieldError {
  return { field: r.field, message: r.message };
}

function probeErrors(field: string, probe: ProbeOverride | undefined): FieldError[] {
  if (probe === undefined) return [];
  const handlers = (['httpGet', 'grpc', 'tcpSocket', 'exec'] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length <= 1) return [];
  return [{ field, message: `set only one of httpGet, grpc, tcpSocket and exec (found ${handlers.join(' and ')})` }];
}

export function semanticErrors(md: ModelDeployment): FieldError[] {
  const errors: FieldError[] = [];
  const spec = md.spec;
  const R = CROSS_FIELD_RULES;

  // Mirrors of the CEL rules.
  if (!NAME_RE.test(md.metadata.name ?? '')) errors.push(rule(R.nameIsDnsLabel));
  if (spec.replicas !== undefined && spec.autoscaling !== undefined) errors.push(rule(R.replicasWithAutoscaling));
  if (spec.model.format === 'custom' && spec.runtime?.image === undefined) errors.push(rule(R.customNeedsImage));
  const a = spec.autoscaling;
  if (a?.minReplicas !== undefined && a.minReplicas > a.maxReplicas) errors.push(rule(R.minLeMax));
  const ro = spec.rollout;
  if (ro?.maxSurge !== undefined && isZeroIntOrPercent(ro.maxSurge) && isZeroIntOrPercent(ro.maxUnavailable)) {
    errors.push(rule(R.surgeAndUnavailableNotBothZero));
  }
  if ((ro?.strategy === 'Canary') !== (ro?.canary !== undefined)) errors.push(rule(R.canaryNeedsStrategy));
  const av = spec.availability;
  if (av?.minAvailable !== undefined && av.maxUnavailable !== undefined) errors.push(rule(R.pdbOneOf));
  if (spec.model.credentialsSecret !== undefined && !isCredentialScheme(uriScheme(spec.model.uri))) {
    errors.push(rule(R.credentialsNeedRemoteUri));
  }
  const uri = parseModelUri(spec.model.uri);
  if (!uri.ok) errors.push({ field: 'spec.model.uri', message: uri.message === URI_SECRET_MESSAGE ? R.uriCarriesNoSecrets.message : uri.message });
  const labels = Object.keys(spec.pod?.labels ?? {});
  if (labels.some((k) => RESERVED_LABELS.has(k) || k.startsWith(RESERVED_PREFIX))) errors.push(rule(R.reservedPodLabels));
  if (Object.keys(spec.pod?.annotations ?? {}).some((k) => k.startsWith(RESERVED_PREFIX))) {
    errors.push(rule(R.reservedPodAnnotations));
  }

  // The API server refuses these too, through the list-map key of env.
  const seen = new Set<string>();
  (spec.runtime?.env ?? []).forEach((e, i) => {
    if (seen.has(e.name)) {
      errors.push({ field: `spec.runtime.env[${i}].name`, message: `${e.name} is listed twice; each variable may appear once` });
    }
    seen.add(e.name);
  });

  // Only the operator can check these: they depend on the runtime table or on what a Deployment accepts.
  for (const [key, value] of Object.entries(spec.pod?.labels ?? {})) {
    if (!LABEL_KEY_RE.test(key)) {
      errors.push({ field: `spec.pod.labels[${key}]`, message: 'is not a valid label key: use an optional DNS prefix and a name of at most 63 letters, digits, dashes, underscores and dots' });
    } else if (!LABEL_VALUE_RE.test(value)) {
      errors.push({ field: `spec.pod.labels[${key}]`, message: 'is not a valid label value: use at most 63 letters, digits, dashes, underscores and dots, starting and ending with a letter or digit' });
    }
  }

  const rt = runtimeForFormat(spec.model.format);
  const protocol = spec.runtime?.protocol ?? 'http';
  const ports = runtimePorts(spec);
  if (ports[protocol] === undefined) {
    errors.push({
      field: 'spec.runtime.protocol',
      message:
        rt.name === 'custom'
          ? `is ${protocol} but runtime.ports has no ${protocol} port; add runtime.ports.${protocol}`
          : `the ${rt.name} runtime does not serve ${protocol}; use ${protocol === 'grpc' ? 'http' : 'grpc'}, or set runtime.ports.${protocol} if your image serves it`,
    });
  }
  if (ports.http !== undefined && ports.http === ports.grpc) {
    errors.push({ field: 'spec.runtime.ports.grpc', message: `must differ from runtime.ports.http (both are ${ports.http})` });
  }
  const other = protocol === 'http' ? 'grpc' : 'http';
  const servicePort = spec.service?.port ?? 80;
  if (ports[protocol] !== undefined && ports[other] === servicePort) {
    errors.push({
      field: 'spec.service.port',
      message: `${servicePort} is already the Service port for ${other} (the ${other} container port); choose another port`,
    });
  }

  errors.push(...probeErrors('spec.runtime.readinessProbe', spec.runtime?.readinessProbe));
  errors.push(...probeErrors('spec.runtime.livenessProbe', spec.runtime?.livenessProbe));
  errors.push(...probeErrors('spec.runtime.startupProbe', spec.runtime?.startupProbe));
  // What the API server would refuse in the children these fields are copied into.
  errors.push(...kubernetesErrors(spec));

  if (ro?.maxSurge === undefined && isZeroIntOrPercent(ro?.maxUnavailable) && isZeroIntOrPercent(effectiveRollout(spec).maxSurge)) {
    errors.push({
      field: 'spec.rollout.maxUnavailable',
      message:
        'is 0, and pods that request GPUs get maxSurge 0 by default, so a rollout could never replace a pod; set rollout.maxSurge (needs spare GPUs) or allow maxUnavailable of at least 1',
    });
  }

  const canary = ro?.canary;
  if (canary !== undefined) {
    canary.steps.forEach((step, i) => {
      const prev = canary.steps[i - 1];
      if (prev !== undefined && step.weight <= prev.weight) {
        errors.push({ field: `spec.rollout.canary.steps[${i}].weight`, message: `is ${step.weight}, but each step must take more traffic than the one before (${prev.weight})` });
      }
    });
    const size = a !== undefined ? (a.minReplicas ?? 1) : (spec.replicas ?? 1);
    if (isZeroIntOrPercent(effectiveRollout(spec).maxSurge) && size < 2) {
      errors.push({
        field: a !== undefined ? 'spec.autoscaling.minReplicas' : 'spec.replicas',
        message: `is ${size}, but a canary with maxSurge 0 (the default for GPU pods) takes a stable pod away before it adds a canary pod, so it needs at least 2 replicas to keep one serving; raise it, or set rollout.maxSurge (needs spare GPUs)`,
      });
    }
  }

  if (a !== undefined) {
    const requests = spec.resources?.requests ?? {};
    const hasAnyTarget =
      a.targetCPUUtilizationPercentage !== undefined || a.targetMemoryUtilizationPercentage !== undefined || (a.metrics?.length ?? 0) > 0;
    const cpuTarget = a.targetCPUUtilizationPercentage !== undefined || !hasAnyTarget;
    if (cpuTarget && requests['cpu'] === undefined) {
      errors.push({
        field: 'spec.resources.requests.cpu',
        message: hasAnyTarget
          ? 'is required for autoscaling on CPU, because the target is a percentage of the CPU request'
          : 'is required for autoscaling: with no target set, autoscaling targets 80% of the CPU request',
      });
    }
    if (a.targetMemoryUtilizationPercentage !== undefined && requests['memory'] === undefined) {
      errors.push({
        field: 'spec.resources.requests.memory',
        message: 'is required for autoscaling on memory, because the target is a percentage of the memory request',
      });
    }
  }
  return errors;
}
