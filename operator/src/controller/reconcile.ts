// One reconcile of one ModelDeployment, as ARCHITECTURE.md lays it out: read from the cache,
// validate, render, apply only the children that differ, delete the ones no longer wanted, and
// patch /status only when it changed. A steady state makes no write calls.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject, V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentStatus } from '../api/types.ts';
import { formatFieldErrors, validateModelDeployment } from '../api/validate.ts';
import type { RenderConfig } from '../render/config.ts';
import { renderChildren, selectorString, servedModelFromTemplate, serviceUrl, type DesiredChildren } from '../render/index.ts';
import { computeStatus } from '../status/compute.ts';
import { isInvalid, isNamespaceTerminating } from '../kube/errors.ts';
import { containsDesired, differingPaths } from './diff.ts';
import { Reason as EventReason, type EventType, type Reason } from './events.ts';

/** The children we own, in the order we apply them. */
export const CHILD_KINDS = [
  { kind: 'Deployment', apiVersion: 'apps/v1', field: 'deployment' },
  { kind: 'Service', apiVersion: 'v1', field: 'service' },
  { kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2', field: 'hpa' },
  { kind: 'PodDisruptionBudget', apiVersion: 'policy/v1', field: 'pdb' },
] as const satisfies readonly { kind: string; apiVersion: string; field: keyof DesiredChildren }[];

export type ChildKind = (typeof CHILD_KINDS)[number]['kind'];

/** Names a hash of everything we apply to a child, so that a field we stop sending is noticed. */
export const APPLIED_HASH_ANNOTATION = 'serving.modelship.dev/applied-hash';


/** What a reconcile needs from the world: a read-only cache, three kinds of write, and a recorder. */
export interface ReconcileDeps {
  getModelDeployment(namespace: string, name: string): ModelDeployment | undefined;
  getChild(kind: ChildKind, namespace: string, name: string): KubernetesObject | undefined;
  apply(obj: KubernetesObject): Promise<unknown>;
  /**
   * Overwrites the object's spec with ours (a JSON merge patch, which replaces lists whole). For
   * drift that server-side apply alone cannot undo: another manager took over an item of a keyed
   * list (say, a Service port edited by hand), so our apply would add a second item beside it.
   */
  replaceSpec(obj: KubernetesObject): Promise<unknown>;
  deleteChild(kind: ChildKind, namespace: string, name: string, uid: string): Promise<void>;
  patchStatus(md: ModelDeployment, status: ModelDeploymentStatus): Promise<void>;
  event(md: ModelDeployment, type: EventType, reason: Reason, message: string): void;
  log: { info(msg: string, fields?: object): void; warn(msg: string, fields?: object): void; debug(msg: string, fields?: object): void };
  config: RenderConfig;
  now(): Date;
}

export class ReconcileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReconcileError';
  }
}

function errorText(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (e && typeof e.body === 'object' && e.body && 'message' in e.body) return String((e.body as { message: unknown }).message);
  if (typeof e?.body === 'string') {
    try {
      return String((JSON.parse(e.body) as { message?: unknown }).message ?? e.body);
    } catch {
      return e.body;
    }
  }
  return e?.message ?? String(err);
}

function controllerUid(obj: KubernetesObject): string | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller)?.uid;
}

function withAppliedHash(obj: KubernetesObject): KubernetesObject {
  const hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash } } };
}

interface ChildOutcome {
  kind: ChildKind;
  done?: 'Created' | 'Updated' | 'Deleted';
  drift?: string[];
  conflict?: string;
  error?: unknown;
  deleting?: boolean;
}

/** "Deployment", "Deployment and Service", "Deployment, Service and PodDisruptionBudget". */
function listKinds(kinds: string[]): string {
  return kinds.length <= 1 ? (kinds[0] ?? '') : `${kinds.slice(0, -1).join(', ')} and ${kinds.at(-1)}`;
}

/** Reconciles the ModelDeployment named by `key` ("namespace/name"). Throws to be retried with backoff. */
export async function reconcile(deps: ReconcileDeps, key: string): Promise<void> {
  const [namespace, name] = key.split('/') as [string, string];
  const cached = deps.getModelDeployment(namespace, name);
  // Deleted: the garbage collector removes the children through their ownerReferences.
  if (!cached || cached.metadata?.deletionTimestamp) return;
  // NEVER mutate an object from the cache.
  const md = structuredClone(cached);
  const generation = md.metadata?.generation ?? 0;
  const fields = { namespace, name, kind: 'ModelDeployment' };

  const writeStatus = async (status: ModelDeploymentStatus): Promise<boolean> => {
    if (isDeepStrictEqual(status, md.status ?? {})) return false;
    await deps.patchStatus(md, status);
    return true;
  };

  const validation = validateModelDeployment(md);
  if (!validation.ok) {
    const message = `The spec is invalid: ${formatFieldErrors(validation.errors)}`;
    const status = computeStatus({ generation, previous: md.status, now: deps.now(), invalidSpec: message });
    if (await writeStatus(status)) {
      deps.event(md, 'Warning', EventReason.InvalidSpec, message);
      deps.log.warn('Rejected an invalid spec', { ...fields, errors: validation.errors });
    }
    return;
  }

  const valid = validation.value;
  const desired = renderChildren(valid, deps.config);
  const observed: Partial<Record<ChildKind, KubernetesObject>> = {};
  const uid = md.metadata?.uid ?? '';
  let applyError: string | undefined;
  let conflict: string | undefined;

  // The children are independent of each other: sync them at once, to keep a reconcile short.
  const outcomes = await Promise.all(
    CHILD_KINDS.map(async ({ kind, field }): Promise<ChildOutcome> => {
      const want = desired[field] as KubernetesObject | undefined;
      const have = deps.getChild(kind, namespace, name);
      if (have) observed[kind] = have;
      if (have && controllerUid(have) !== undefined && controllerUid(have) !== uid) {
        return { kind, conflict: `${kind} ${name} already exists and is controlled by another owner; rename or delete it` };
      }
      try {
        if (want) {
          const full = withAppliedHash(want);
          if (have && containsDesired(full, have)) return { kind };
          try {
            await deps.apply(full);
          } catch (err) {
            if (!have || !isInvalid(err)) throw err;
            deps.log.info(`Replaced the spec of ${kind} before applying`, { ...fields, child: kind, error: errorText(err) });
            await deps.replaceSpec(full);
            await deps.apply(full);
          }
          if (!have) return { kind, done: 'Created' };
          return { kind, done: 'Updated', drift: differingPaths(full, have).filter((p) => !p.includes(APPLIED_HASH_ANNOTATION)) };
        }
        if (have && controllerUid(have) === uid) {
          await deps.deleteChild(kind, namespace, name, have.metadata?.uid ?? '');
          delete observed[kind];
          return { kind, done: 'Deleted' };
        }
        return { kind };
      } catch (err) {
        return { kind, error: err, deleting: !want };
      }
    }),
  );

  // The namespace is being deleted, and this ModelDeployment with it: nothing left to do.
  if (outcomes.some((o) => o.error !== undefined && isNamespaceTerminating(o.error))) {
    deps.log.debug('Skipped a namespace that is being deleted', fields);
    return;
  }
  for (const done of ['Created', 'Updated', 'Deleted'] as const) {
    const these = outcomes.filter((o) => o.done === done);
    if (these.length === 0) continue;
    const drift = these.flatMap((o) => (o.drift ?? []).map((p) => `${o.kind} ${p}`));
    const message = `${done} ${listKinds(these.map((o) => o.kind))} ${name}${done === 'Deleted' ? ': no longer wanted by the spec' : ''}${drift.length ? ` (${drift.slice(0, 5).join(', ')})` : ''}`;
    deps.event(md, 'Normal', EventReason[done], message);
    deps.log.info(message, { ...fields, children: these.map((o) => o.kind), fields: drift.slice(0, 10) });
  }
  const conflicts = outcomes.filter((o) => o.conflict !== undefined).map((o) => o.conflict as string);
  if (conflicts.length) {
    conflict = conflicts.join('; ');
    deps.event(md, 'Warning', EventReason.NotOwned, conflict);
  }
  const failed = outcomes.filter((o) => o.error !== undefined);
  if (failed.length) {
    applyError = failed.map((o) => `${o.deleting ? 'Deleting' : 'Applying'} ${o.kind} ${name} failed: ${errorText(o.error)}`).join('; ');
    deps.event(md, 'Warning', failed.some((o) => !o.deleting) ? EventReason.ApplyFailed : EventReason.DeleteFailed, applyError);
    deps.log.warn('Syncing children failed', { ...fields, error: applyError });
  }

  const deployment = observed.Deployment;
  const status = computeStatus({
    generation,
    previous: md.status,
    now: deps.now(),
    ...(applyError !== undefined ? { applyError } : {}),
    ...(conflict !== undefined ? { conflict } : {}),
    desired: {
      model: servedModelFromTemplate(desired.deployment.spec?.template),
      selector: selectorString(valid),
      url: serviceUrl(valid, deps.config),
      ...(valid.spec.autoscaling ? { minReplicas: valid.spec.autoscaling.minReplicas ?? 1 } : {}),
    },
    ...(deployment ? { deployment: deployment as V1Deployment } : {}),
    ...(observed.HorizontalPodAutoscaler ? { hpa: observed.HorizontalPodAutoscaler as V2HorizontalPodAutoscaler } : {}),
  });
  const wasReady = md.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  try {
    const changed = await writeStatus(status);
    deps.log.debug(changed ? 'Updated the status' : 'Left the status as it was', { ...fields, generation, ready: ready?.status, reason: ready?.reason, message: ready?.message });
    if (changed && ready?.status === 'True' && !wasReady) deps.event(md, 'Normal', EventReason.Ready, ready.message);
  } catch (err) {
    if (applyError === undefined) throw new ReconcileError(`Patching the status of ${key} failed: ${errorText(err)}`, { cause: err });
  }
  if (applyError !== undefined) throw new ReconcileError(applyError);
}
