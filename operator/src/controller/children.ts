// The sync-children step: apply each child that differs from what we want, delete the ones the spec
// no longer wants, and keep what the API server returned as the child's state after this pass.
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { isInvalid } from '../kube/errors.ts';
import { classifyError, needsReplicasHandover } from './decisions.ts';
import { containsDesired, differingPaths } from './diff.ts';
import { CHILD_KINDS, type ChildKind, type Pass, type ReconcileDeps } from './reconcile.ts';

/** Names a hash of everything we apply to a child, so that a field we stop sending is noticed. */
export const APPLIED_HASH_ANNOTATION = 'serving.modelship.dev/applied-hash';

/** The field manager that holds spec.replicas between fixed replicas and the HPA taking over. */
export const HANDOVER_MANAGER = 'modelship-handover';

export interface ChildOutcome {
  kind: ChildKind;
  done?: 'Created' | 'Updated' | 'Deleted';
  drift?: string[];
  error?: unknown;
  deleting?: boolean;
}

export function withAppliedHash(obj: KubernetesObject): KubernetesObject {
  const hash = createHash('sha256').update(JSON.stringify(obj)).digest('hex').slice(0, 16);
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash } } };
}

type Spec = { spec?: { replicas?: number } };

/** Hands spec.replicas to HANDOVER_MANAGER at its current value (see needsReplicasHandover). */
async function handOverReplicas(deps: ReconcileDeps, pass: Pass, have: KubernetesObject): Promise<void> {
  const replicas = (have as Spec).spec?.replicas;
  await deps.apply(
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: pass.name, namespace: pass.namespace }, spec: { replicas } } as KubernetesObject,
    { fieldManager: HANDOVER_MANAGER, signal: pass.signal },
  );
  deps.log.info('Handed the Deployment size to the HorizontalPodAutoscaler', { ...pass.fields, replicas });
}

async function syncOne(deps: ReconcileDeps, pass: Pass, kind: ChildKind, want: KubernetesObject | undefined, hpaExisted: boolean): Promise<ChildOutcome> {
  const have = pass.observed[kind];
  const { signal } = pass;
  try {
    if (want) {
      const full = withAppliedHash(want);
      if (have && containsDesired(full, have)) return { kind };
      if (
        kind === 'Deployment' &&
        have &&
        needsReplicasHandover({
          desiredReplicas: (want as Spec).spec?.replicas,
          observedReplicas: (have as Spec).spec?.replicas,
          hpaExists: hpaExisted,
          willApply: true,
        })
      ) {
        await handOverReplicas(deps, pass, have);
      }
      const memo = `${pass.namespace}/${pass.name}/${kind}`;
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
      pass.observed[kind] = stored;
      if (!have) return { kind, done: 'Created' };
      return { kind, done: 'Updated', drift: differingPaths(full, have).filter((p) => !p.includes(APPLIED_HASH_ANNOTATION)) };
    }
    if (have) {
      await deps.deleteChild(kind, pass.namespace, pass.name, have.metadata?.uid ?? '', signal);
      delete pass.observed[kind];
      return { kind, done: 'Deleted' };
    }
    return { kind };
  } catch (err) {
    return { kind, error: err, deleting: !want };
  }
}

/** Applies and deletes the children, all at once: they are independent of each other. */
export function syncChildren(deps: ReconcileDeps, pass: Pass): Promise<ChildOutcome[]> {
  const desired = pass.desired;
  const hpaExisted = pass.observed.HorizontalPodAutoscaler !== undefined;
  return Promise.all(CHILD_KINDS.map(({ kind, field }) => syncOne(deps, pass, kind, desired?.[field] as KubernetesObject | undefined, hpaExisted)));
}
