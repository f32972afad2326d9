// Pure decisions of the reconcile, each with a table test (test/unit/controller/decisions.test.ts):
// whose an object is, whether an error will fix itself, when the size must be handed to the HPA.
import type { KubernetesObject } from '@kubernetes/client-node';
import { isNamespaceTerminating, KubeApiError, NotLeaderError } from '../kube/errors.ts';
import { compareStrings } from '../order.ts';

/** Whose a child of the right name is, as far as this ModelDeployment is concerned. */
export type Ownership =
  | { kind: 'absent' }
  | { kind: 'ours' }
  | { kind: 'foreign'; message: string };

interface Managed {
  manager?: string;
  operation?: string;
  time?: string;
  subresource?: string;
}

/** Who made an object: its controller, or the first manager that wrote it. */
function madeBy(obj: KubernetesObject): string {
  const owner = obj.metadata?.ownerReferences?.find((r) => r.controller);
  if (owner) return `controlled by ${owner.kind} ${owner.name}`;
  const managers = (obj.metadata?.managedFields ?? []) as Managed[];
  // The object's own writers, not the controllers that only write its status.
  const first = managers.filter((m) => m.manager && !m.subresource).sort((a, b) => compareStrings(a.time ?? '', b.time ?? ''))[0];
  return first?.manager ? `made by ${first.manager}` : 'not controlled by any ModelDeployment';
}

/**
 * The operator never modifies or deletes an object it does not control: a child is ours only when
 * its controller ownerReference names this ModelDeployment's uid. Labels prove nothing (anyone can
 * copy them).
 */
export function ownershipOf(obj: KubernetesObject | undefined, uid: string, kind: string): Ownership {
  if (!obj) return { kind: 'absent' };
  const controller = obj.metadata?.ownerReferences?.find((r) => r.controller);
  if (controller?.uid === uid) return { kind: 'ours' };
  const name = obj.metadata?.name ?? '';
  return {
    kind: 'foreign',
    message: `${kind} ${obj.metadata?.namespace ?? ''}/${name} already exists and is ${madeBy(obj)}; the operator leaves it untouched. Delete or rename it, or rename the ModelDeployment`,
  };
}

/** How a failed API call is handled. */
export type ErrorClass =
  /** May fix itself (5xx, 429, timeouts, connection errors): Reconciling, retried with backoff. */
  | { kind: 'transient'; retryAfterMs?: number }
  /** Will not fix itself without a change (400, 422, an immutable field): Stalled, not retried. */
  | { kind: 'invalid' }
  /** Refused by authorization or admission (403): Stalled, retried slowly, for the day it is granted. */
  | { kind: 'forbidden' }
  /** The namespace is being deleted, and the ModelDeployment with it: nothing to do. */
  | { kind: 'terminating' }
  /** This replica lost the lease, or is shutting down: stop without a trace. */
  | { kind: 'aborted' };

/** How long a forbidden write waits before it is tried again. */
export const FORBIDDEN_RETRY_MS = 30_000;

function retryAfterMs(err: KubeApiError): number | undefined {
  const details = err.status?.details as { retryAfterSeconds?: number } | undefined;
  return details?.retryAfterSeconds !== undefined ? details.retryAfterSeconds * 1000 : undefined;
}

export function classifyError(err: unknown): ErrorClass {
  if (err instanceof NotLeaderError) return { kind: 'aborted' };
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError') && !(err instanceof KubeApiError)) {
    // Our own signal (lease lost, shutdown) aborts; a request timeout is a transient failure.
    return err.name === 'AbortError' ? { kind: 'aborted' } : { kind: 'transient' };
  }
  if (isNamespaceTerminating(err)) return { kind: 'terminating' };
  if (!(err instanceof KubeApiError)) return { kind: 'transient' };
  const code = err.statusCode;
  if (code === 429) {
    const after = retryAfterMs(err);
    return after === undefined ? { kind: 'transient' } : { kind: 'transient', retryAfterMs: after };
  }
  if (code === 403) return { kind: 'forbidden' };
  // 409 on apply or delete is a race with another writer: the next pass sees the new state.
  if (code === 408 || code === 409 || code >= 500) return { kind: 'transient' };
  if (code >= 400) return { kind: 'invalid' };
  return { kind: 'transient' };
}

/** The API server's words for an error, without our request line. */
export function errorText(err: unknown): string {
  if (err instanceof KubeApiError) return err.status?.message ?? err.message;
  const e = err as { message?: string };
  return e?.message ?? String(err);
}

/**
 * Fixed replicas → autoscaling: the operator stops sending spec.replicas, and server-side apply
 * would reset a field its only owner stops sending (to 1). The Kubernetes docs' way out is to hand
 * the field to another manager first, with its current value, so it stays until the HPA writes it.
 * Needed when the Deployment is about to be applied without replicas, holds replicas now, and no
 * HPA exists yet to have taken the field.
 */
export function needsReplicasHandover(input: {
  desiredReplicas: number | undefined;
  observedReplicas: number | undefined;
  hpaExists: boolean;
  willApply: boolean;
}): boolean {
  return input.willApply && input.desiredReplicas === undefined && input.observedReplicas !== undefined && !input.hpaExists;
}
