// The sync-children step: apply each wanted child that differs from what we want, delete the
// children this ModelDeployment controls that are no longer wanted, and keep what the API server
// returned as the child's state after this pass.
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { isInvalid } from '../kube/errors.ts';
import { ROLE_LABEL } from '../rollout/slots.ts';
import { classifyError, needsReplicasHandover } from './decisions.ts';
import { containsDesired, differingPaths } from './diff.ts';
import { childKey, type ChildKind, type Pass, type ReconcileDeps } from './reconcile.ts';
import { ROLLOUT_MANAGER, templateFromReplicaSet, type Wanted } from './rollout.ts';

/** Names a hash of everything we apply to a child, so that a field we stop sending is noticed. */
export const APPLIED_HASH_ANNOTATION = 'serving.modelship.dev/applied-hash';

/** The field manager that holds spec.replicas between our last write of it and the HPA's first. */
export const HANDOVER_MANAGER = 'modelship-handover';

export interface ChildOutcome {
  kind: string;
  name: string;
  done?: 'Created' | 'Updated' | 'Deleted';
  drift?: string[];
  error?: unknown;
  deleting?: boolean;
}

export function withAppliedHash(obj: KubernetesObject): KubernetesObject {
  const hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash } } };
}

type Sized = { spec?: { replicas?: number } };

/** Hands spec.replicas to HANDOVER_MANAGER at its current value (see needsReplicasHandover). */
async function handOverReplicas(deps: ReconcileDeps, pass: Pass, name: string, have: KubernetesObject): Promise<void> {
  const replicas = (have as Sized).spec?.replicas;
  await deps.apply(
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: pass.namespace }, spec: { replicas } } as KubernetesObject,
    { fieldManager: HANDOVER_MANAGER, signal: pass.signal },
  );
  deps.log.info('Handed the Deployment size to the HorizontalPodAutoscaler', { ...pass.fields, deployment: name, replicas });
}

/** The whole object, with its template taken from a ReplicaSet read from the API server. */
async function restored(deps: ReconcileDeps, pass: Pass, w: Extract<Wanted, { how: 'restore' }>): Promise<KubernetesObject> {
  const rs = await deps.readReplicaSet(pass.namespace, w.replicaSet, pass.signal);
  const template = rs ? templateFromReplicaSet(rs) : undefined;
  if (!template) throw new Error(`ReplicaSet ${w.replicaSet}, whose template a rollback restores, is gone`);
  const obj = structuredClone(w.object) as V1Deployment;
  obj.spec!.template = template;
  return obj as KubernetesObject;
}

async function applyOne(deps: ReconcileDeps, pass: Pass, w: Extract<Wanted, { how: 'apply' | 'restore' }>, hpaExisted: boolean): Promise<ChildOutcome> {
  const { kind, name } = w;
  const key = childKey(kind, name);
  const have = pass.observed.get(key);
  const { signal } = pass;
  const full = withAppliedHash(w.how === 'restore' ? await restored(deps, pass, w) : w.object);
  if (have && containsDesired(full, have)) return { kind, name };
  if (
    kind === 'Deployment' &&
    have &&
    needsReplicasHandover({
      desiredReplicas: (full as Sized).spec?.replicas,
      observedReplicas: (have as Sized).spec?.replicas,
      // The size was ours while no HPA existed, and on a canary slot (which the HPA never scales).
      hpaExists: hpaExisted && have.metadata?.labels?.[ROLE_LABEL] !== 'canary',
      willApply: true,
    })
  ) {
    await handOverReplicas(deps, pass, name, have);
  }
  const memo = `${pass.namespace}/${pass.name}/${key}`;
  const fingerprint = `${full.metadata?.annotations?.[APPLIED_HASH_ANNOTATION]}@${have?.metadata?.resourceVersion ?? 'absent'}`;
  const refused = deps.refusals.get(memo);
  if (refused?.fingerprint === fingerprint) throw refused.error;
  let stored: KubernetesObject;
  try {
    try {
      stored = await deps.apply(full, { signal });
    } catch (err) {
      if (!have || !isInvalid(err)) throw err;
      deps.log.info(`Replaced the spec of ${kind} before applying`, { ...pass.fields, child: kind, error: (err as Error).message });
      await deps.replaceSpec(full, signal);
      stored = await deps.apply(full, { signal });
    }
  } catch (err) {
    if (classifyError(err).kind === 'invalid') deps.refusals.set(memo, { fingerprint, error: err });
    throw err;
  }
  deps.refusals.delete(memo);
  pass.observed.set(key, stored);
  if (!have) return { kind, name, done: 'Created' };
  return { kind, name, done: 'Updated', drift: differingPaths(full, have).filter((p) => !p.includes(APPLIED_HASH_ANNOTATION)) };
}

/** Sets the size of a slot whose template the pass leaves alone, as its own field manager. */
async function resize(deps: ReconcileDeps, pass: Pass, w: Extract<Wanted, { how: 'replicas' }>): Promise<ChildOutcome> {
  const key = childKey(w.kind, w.name);
  const have = pass.observed.get(key);
  if (!have || (have as Sized).spec?.replicas === w.replicas) return { kind: w.kind, name: w.name };
  const stored = await deps.apply(
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: w.name, namespace: pass.namespace }, spec: { replicas: w.replicas } } as KubernetesObject,
    { fieldManager: ROLLOUT_MANAGER, signal: pass.signal },
  );
  pass.observed.set(key, stored);
  return { kind: w.kind, name: w.name, done: 'Updated', drift: [`spec.replicas ${(have as Sized).spec?.replicas} → ${w.replicas}`] };
}

async function syncOne(deps: ReconcileDeps, pass: Pass, w: Wanted, hpaExisted: boolean): Promise<ChildOutcome> {
  try {
    if (w.how === 'keep') return { kind: w.kind, name: w.name };
    return w.how === 'replicas' ? await resize(deps, pass, w) : await applyOne(deps, pass, w, hpaExisted);
  } catch (err) {
    return { kind: w.kind, name: w.name, error: err };
  }
}

async function deleteOne(deps: ReconcileDeps, pass: Pass, key: string, child: KubernetesObject): Promise<ChildOutcome> {
  const kind = key.slice(0, key.indexOf('/')) as ChildKind;
  const name = child.metadata?.name ?? '';
  try {
    await deps.deleteChild(kind, pass.namespace, name, child.metadata?.uid ?? '', pass.signal);
    pass.observed.delete(key);
    return { kind, name, done: 'Deleted' };
  } catch (err) {
    return { kind, name, error: err, deleting: true };
  }
}

/** Applies the wanted children and deletes the unwanted ones this ModelDeployment controls, all at once. */
export function syncChildren(deps: ReconcileDeps, pass: Pass): Promise<ChildOutcome[]> {
  const wantedKeys = new Set(pass.wanted.map((w) => childKey(w.kind, w.name)));
  const hpaExisted = [...pass.observed.keys()].some((k) => k.startsWith('HorizontalPodAutoscaler/'));
  const unwanted = [...pass.owned.entries()].filter(([k]) => !wantedKeys.has(k));
  return Promise.all([...pass.wanted.map((w) => syncOne(deps, pass, w, hpaExisted)), ...unwanted.map(([k, child]) => deleteOne(deps, pass, k, child))]);
}
