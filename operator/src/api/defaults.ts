// Defaults, so that render gets a complete spec. Schema defaults (the `default` keywords, which the
// API server also applies) come first; then the defaults that depend on other fields, which the
// CRD cannot express.
import { specSchema } from './schema.ts';
import type { SchemaNode } from './schema.ts';
import type { ModelDeployment, ModelDeploymentSpec, ResourceRequirements } from './types.ts';

export const DEFAULT_REPLICAS = 1;
export const DEFAULT_MIN_REPLICAS = 1;
export const DEFAULT_CPU_TARGET_PERCENT = 80;
export const DEFAULT_MAX_SURGE = '25%';
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_PDB_MAX_UNAVAILABLE = 1;

/** Extended resources that are GPUs or GPU slices (NVIDIA MIG, AMD, Intel). */
export function isGpuResource(name: string): boolean {
  return /(^|\/)gpu$/.test(name) || name.startsWith('gpu.') || name.includes('/mig-') || /^[a-z0-9.-]*\/gpu[-.]/.test(name);
}

function isZeroQuantity(q: number | string): boolean {
  return q === 0 || (typeof q === 'string' && /^[+]?0*(\.0*)?[a-zA-Z]*$/.test(q));
}

export function requestsGpus(resources: ResourceRequirements | undefined): boolean {
  for (const list of [resources?.requests, resources?.limits]) {
    for (const [name, q] of Object.entries(list ?? {})) {
      if (isGpuResource(name) && !isZeroQuantity(q)) return true;
    }
  }
  return false;
}

/** "0", 0 and "0%" all mean zero for maxSurge and maxUnavailable. */
export function isZeroIntOrPercent(v: number | string | undefined): boolean {
  return v === 0 || v === '0' || v === '0%';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies `default` keywords the way the API server does: only where the parent object exists. */
export function applySchemaDefaults(node: SchemaNode, value: unknown): void {
  if (Array.isArray(value) && node.items !== undefined) {
    for (const item of value) applySchemaDefaults(node.items, item);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (value[key] === undefined && child.default !== undefined) value[key] = structuredClone(child.default);
    if (value[key] !== undefined) applySchemaDefaults(child, value[key]);
  }
  if (node.additionalProperties !== undefined) {
    for (const key of Object.keys(value)) {
      if (node.properties?.[key] === undefined) applySchemaDefaults(node.additionalProperties, value[key]);
    }
  }
}

/** The effective rollout settings: GPU pods never surge unless the user asked for it. */
export function effectiveRollout(spec: ModelDeploymentSpec): { maxSurge: number | string; maxUnavailable: number | string } {
  const gpu = requestsGpus(spec.resources);
  const maxSurge = spec.rollout?.maxSurge ?? (gpu ? 0 : DEFAULT_MAX_SURGE);
  const maxUnavailable = spec.rollout?.maxUnavailable ?? (isZeroIntOrPercent(maxSurge) ? 1 : 0);
  return { maxSurge, maxUnavailable };
}

/**
 * A copy of md with every default filled in. Idempotent; never mutates md. Only the spec is copied
 * (the defaults are in it): metadata and status are md's own, frozen in the cache, never written.
 */
export function withDefaults(md: ModelDeployment): ModelDeployment {
  const out = { ...md, spec: structuredClone(md.spec) };
  applySchemaDefaults(specSchema, out.spec);
  const spec = out.spec;

  if (spec.autoscaling === undefined) {
    spec.replicas ??= DEFAULT_REPLICAS;
  } else {
    const a = spec.autoscaling;
    a.minReplicas ??= DEFAULT_MIN_REPLICAS;
    const hasTarget =
      a.targetCPUUtilizationPercentage !== undefined ||
      a.targetMemoryUtilizationPercentage !== undefined ||
      (a.metrics?.length ?? 0) > 0;
    if (!hasTarget) a.targetCPUUtilizationPercentage = DEFAULT_CPU_TARGET_PERCENT;
  }

  spec.runtime ??= {};
  spec.runtime.protocol ??= 'http';

  spec.rollout = { ...spec.rollout, ...effectiveRollout(spec) };
  spec.rollout.progressDeadlineSeconds ??= DEFAULT_PROGRESS_DEADLINE_SECONDS;

  spec.availability ??= {};
  spec.availability.enabled ??= true;
  return out;
}
