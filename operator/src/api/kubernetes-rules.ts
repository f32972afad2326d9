// What the API server checks in the fields the operator copies into a Deployment or Service, and
// the CRD schema cannot say: without these the operator accepts a spec, renders it, and the API
// server refuses the child (ApplyRefused), where the spec itself should have been refused with
// the field named (InvalidSpec). Found by the property-based test (test/faults/dry-run.test.ts);
// each rule mirrors the named function of k8s.io/kubernetes/pkg/apis/core/validation.
import type { V1Toleration } from '@kubernetes/client-node';
import { MAX_QUANTITY_EXPONENT, parseQuantity, wholeQuantity } from './quantity.ts';
import type { FieldError } from './errors.ts';
import type { ModelDeploymentSpec, ProbeOverride } from './types.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A qualified name (label, annotation, taint or resource key): an optional DNS prefix and a name. */
export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && NAME_PART.test(name);
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** A map entry's field, as validate.ts writes schema errors: spec.resources.limits.cpu, spec.resources.limits[nvidia.com/gpu]. */
export function entryField(field: string, key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) && !/^[0-9]+$/.test(key) ? `${field}.${key}` : `${field}[${key}]`;
}

const QUALIFIED = 'is not a valid key: use an optional DNS prefix and a name of at most 63 letters, digits, dashes, underscores and dots, starting and ending with a letter or digit (like example.com/my-key)';
const VALUE = 'is not a valid label value: use at most 63 letters, digits, dashes, underscores and dots, starting and ending with a letter or digit';

/** ValidateAnnotations: every key a qualified name. */
export function annotationErrors(field: string, annotations: Record<string, string> | undefined): FieldError[] {
  return Object.keys(annotations ?? {})
    .filter((k) => !isQualifiedName(k))
    .map((k) => ({ field: entryField(field, k), message: QUALIFIED }));
}

/** ValidateNodeSelector: keys are label keys, values label values. */
export function nodeSelectorErrors(field: string, selector: Record<string, string> | undefined): FieldError[] {
  const errors: FieldError[] = [];
  for (const [k, v] of Object.entries(selector ?? {})) {
    if (!isQualifiedName(k)) errors.push({ field: entryField(field, k), message: QUALIFIED });
    else if (!isLabelValue(v)) errors.push({ field: entryField(field, k), message: VALUE });
  }
  return errors;
}

/** validateTolerations. */
export function tolerationErrors(field: string, tolerations: readonly V1Toleration[] | undefined): FieldError[] {
  const errors: FieldError[] = [];
  (tolerations ?? []).forEach((t, i) => {
    const at = `${field}[${i}]`;
    const key = t.key ?? '';
    const operator = t.operator ?? 'Equal';
    if (key !== '' && !isQualifiedName(key)) errors.push({ field: `${at}.key`, message: QUALIFIED });
    if (key === '' && operator !== 'Exists') errors.push({ field: `${at}.operator`, message: 'must be Exists when key is empty (a toleration of every taint)' });
    if (operator === 'Exists' && (t.value ?? '') !== '') errors.push({ field: `${at}.value`, message: 'must be empty when operator is Exists' });
    if (operator === 'Equal' && !isLabelValue(t.value ?? '')) errors.push({ field: `${at}.value`, message: VALUE });
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') errors.push({ field: `${at}.tolerationSeconds`, message: 'can only be set when effect is NoExecute' });
  });
  return errors;
}

/** validateProbe, per kind: only readiness may succeed more than once; only it may not set a grace period. */
export function probeKindErrors(field: string, kind: 'readiness' | 'liveness' | 'startup', probe: ProbeOverride | undefined): FieldError[] {
  if (probe === undefined) return [];
  const errors: FieldError[] = [];
  if (kind !== 'readiness' && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    errors.push({ field: `${field}.successThreshold`, message: `must be 1 for a ${kind} probe` });
  }
  if (kind === 'readiness' && probe.terminationGracePeriodSeconds !== undefined) {
    errors.push({ field: `${field}.terminationGracePeriodSeconds`, message: 'cannot be set on a readiness probe (a failing readiness probe never kills the container)' });
  }
  return errors;
}

const STANDARD = new Set(['cpu', 'memory', 'ephemeral-storage']);
const isHugePages = (name: string): boolean => name.startsWith('hugepages-');
const isExtended = (name: string): boolean => !STANDARD.has(name) && !isHugePages(name);
/**
 * The largest count of an extended resource the API server takes: it checks that the count is whole
 * on its value in thousandths as a 64-bit integer (MilliValue() % 1000), which wraps above this.
 */
export const MAX_EXTENDED_RESOURCE = 9223372036854775n;

/** A name a container may request: standard, huge pages, or an extended resource (a domain outside kubernetes.io). */
export function isContainerResourceName(name: string): boolean {
  if (STANDARD.has(name) || isHugePages(name)) return true;
  if (!name.includes('/') || name.includes('kubernetes.io/') || name.startsWith('requests.')) return false;
  // An extended resource must also make a valid quota name ("requests." + name).
  return isQualifiedName(name) && isQualifiedName(`requests.${name}`);
}

/** ValidateResourceRequirements: names, signs, whole numbers, and requests within limits. */
export function resourceErrors(field: string, resources: ModelDeploymentSpec['resources']): FieldError[] {
  const errors: FieldError[] = [];
  const value = (q: number | string): number | undefined => (typeof q === 'number' ? q : parseQuantity(q));
  const limits = resources?.limits ?? {};
  const requests = resources?.requests ?? {};
  for (const [list, entries] of [['limits', limits], ['requests', requests]] as const) {
    for (const [name, q] of Object.entries(entries)) {
      const at = entryField(`${field}.${list}`, name);
      const v = value(q);
      const whole = wholeQuantity(q);
      if (!isContainerResourceName(name)) {
        errors.push({ field: at, message: 'is not a resource a container can ask for: use cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with a domain, like nvidia.com/gpu' });
      } else if (v === undefined || !Number.isFinite(v) || whole === undefined) {
        errors.push({ field: at, message: `must be a Kubernetes quantity, like 500m, 2, 4Gi or 1, with an exponent of at most ${MAX_QUANTITY_EXPONENT}` });
      } else if (v < 0) {
        errors.push({ field: at, message: 'must not be negative' });
      } else if (isExtended(name) && whole === null) {
        errors.push({ field: at, message: 'must be a whole number: an extended resource cannot be split' });
      } else if (isExtended(name) && (whole as bigint) > MAX_EXTENDED_RESOURCE) {
        errors.push({ field: at, message: `must be at most ${MAX_EXTENDED_RESOURCE}: the API server counts an extended resource in thousandths, in 64 bits` });
      }
    }
  }
  if (errors.length > 0) return errors;
  for (const [name, q] of Object.entries(requests)) {
    const at = entryField(`${field}.requests`, name);
    const limit = limits[name];
    const overcommit = STANDARD.has(name);
    if (limit === undefined) {
      if (!overcommit) errors.push({ field: at, message: `needs the same value in ${entryField(`${field}.limits`, name)}: this resource cannot be overcommitted` });
      continue;
    }
    // An extended resource's counts are compared exactly: above 2^53 a float takes two counts as one.
    const [r, l] = isExtended(name) ? [wholeQuantity(q) as bigint, wholeQuantity(limit) as bigint] : [value(q) as number, value(limit) as number];
    if (r > l) errors.push({ field: at, message: `must be at most ${entryField(`${field}.limits`, name)} (${limit})` });
    else if (!overcommit && r !== l) errors.push({ field: at, message: `must equal ${entryField(`${field}.limits`, name)} (${limit}): this resource cannot be overcommitted` });
  }
  return errors;
}

/** Every rule above, for the fields of a spec that reach the children. */
export function kubernetesErrors(spec: ModelDeploymentSpec): FieldError[] {
  return [
    ...resourceErrors('spec.resources', spec.resources),
    ...probeKindErrors('spec.runtime.readinessProbe', 'readiness', spec.runtime?.readinessProbe),
    ...probeKindErrors('spec.runtime.livenessProbe', 'liveness', spec.runtime?.livenessProbe),
    ...probeKindErrors('spec.runtime.startupProbe', 'startup', spec.runtime?.startupProbe),
    ...nodeSelectorErrors('spec.scheduling.nodeSelector', spec.scheduling?.nodeSelector),
    ...tolerationErrors('spec.scheduling.tolerations', spec.scheduling?.tolerations),
    ...annotationErrors('spec.service.annotations', spec.service?.annotations),
    ...annotationErrors('spec.pod.annotations', spec.pod?.annotations),
  ];
}
