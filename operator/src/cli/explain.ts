// `modelship explain`: one line per ModelDeployment of a live cluster with the diagnosis the
// operator wrote on its status (the Ready condition's reason and message), what to do about it
// (reasons.ts's WHAT_TO_DO, as in docs/operations.md), and what the status alone cannot say: that
// no operator has reported on it, or not on its latest spec.
import type { Condition, ModelDeployment } from '../api/types.ts';
import { API_VERSION, KIND } from '../api/schema.ts';
import { isNotFound } from '../kube/errors.ts';
import { resourcePath } from '../kube/resources.ts';
import type { RestClient } from '../kube/rest.ts';
import { WHAT_TO_DO, type Reason } from '../status/reasons.ts';
import { compareStrings } from '../order.ts';

/** Diagnoses only explain makes: the operator has not written what the status would say. */
export const ExplainReason = {
  /** No status at all: no operator has reconciled it. */
  NotObserved: 'NotObserved',
  /** The status describes an older generation of the spec. */
  StatusBehind: 'StatusBehind',
} as const;

/** What to do about explain's own diagnoses, as docs/operations.md's troubleshooting table says it. */
export const EXPLAIN_WHAT_TO_DO: Readonly<Record<keyof typeof ExplainReason, string>> = {
  NotObserved: 'Check that the operator runs (`kubectl get pods -A -l app.kubernetes.io/name=modelship`) and watches this namespace (`watchNamespaces`), and read its logs.',
  StatusBehind: 'Wait a few seconds; if it lasts, check that the operator runs and read its logs.',
};

export interface ExplainRow {
  namespace: string;
  name: string;
  ready: 'True' | 'False' | 'Unknown';
  reason: string;
  stalled: boolean;
  /** "ready/total" pods. */
  replicas: string;
  age: string;
  message: string;
  /** What to do, when a person can do something. */
  whatToDo?: string;
}

/** kubectl's style of age: 45s, 12m, 5h, 3d. */
export function age(from: Date | string | undefined, now: Date): string {
  if (from === undefined) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - new Date(from).getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function condition(md: ModelDeployment, type: string): Condition | undefined {
  return md.status?.conditions?.find((c) => c.type === type);
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

export function explainRow(md: ModelDeployment, now: Date): ExplainRow {
  const base = {
    namespace: md.metadata.namespace ?? '',
    name: md.metadata.name ?? '',
    replicas: `${md.status?.readyReplicas ?? 0}/${md.status?.replicas ?? 0}`,
    // A string in the JSON the API server sends, whatever the client's type says.
    age: age(md.metadata.creationTimestamp, now),
  };
  const ready = condition(md, 'Ready');
  if (ready === undefined) {
    return {
      ...base,
      ready: 'Unknown',
      reason: ExplainReason.NotObserved,
      stalled: false,
      message: 'No operator has reported on it yet.',
      whatToDo: EXPLAIN_WHAT_TO_DO.NotObserved,
    };
  }
  const generation = md.metadata.generation ?? 0;
  const observed = md.status?.observedGeneration ?? 0;
  if (observed < generation) {
    return {
      ...base,
      ready: 'Unknown',
      reason: ExplainReason.StatusBehind,
      stalled: false,
      message: `The status describes generation ${observed}, the spec is at generation ${generation}: the operator has not yet acted on the latest change (before it: ${ready.reason}).`,
      whatToDo: EXPLAIN_WHAT_TO_DO.StatusBehind,
    };
  }
  const stalled = condition(md, 'Stalled')?.status === 'True';
  const whatToDo = WHAT_TO_DO[ready.reason as Reason];
  return {
    ...base,
    ready: ready.status,
    reason: ready.reason,
    stalled,
    message: oneLine(ready.message),
    ...(ready.status !== 'True' && whatToDo !== undefined ? { whatToDo } : {}),
  };
}

/** A table like `kubectl get`: padded columns, the message (and what to do) last. */
export function formatTable(rows: readonly ExplainRow[], allNamespaces: boolean): string {
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'READY', 'REASON', 'REPLICAS', 'AGE', 'MESSAGE'];
  const cells = rows.map((r) => [
    ...(allNamespaces ? [r.namespace] : []),
    r.name,
    r.ready,
    r.stalled ? `${r.reason} (stalled)` : r.reason,
    r.replicas,
    r.age,
    r.whatToDo ? `${r.message} What to do: ${r.whatToDo}` : r.message,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd((widths[i] ?? 0) + 2))).join('').trimEnd();
  return [line(header), ...cells.map(line)].map((l) => `${l}\n`).join('');
}

export class ExplainError extends Error {}

/** The ModelDeployments of a namespace (all namespaces when none is given), by name. */
export async function listModelDeployments(rest: RestClient, namespace: string | undefined): Promise<ModelDeployment[]> {
  const path = resourcePath(API_VERSION, KIND, namespace);
  let list: { items?: ModelDeployment[] };
  try {
    list = await rest.request<{ items?: ModelDeployment[] }>('GET', path);
  } catch (err) {
    if (isNotFound(err)) {
      throw new ExplainError(`The API server at ${rest.server} has no ModelDeployment API: install the Modelship CRD (helm install, or kubectl apply -f crds/).`);
    }
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new ExplainError(`Listing the ModelDeployments at ${rest.server} failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  return (list.items ?? []).sort((a, b) =>
    compareStrings(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`),
  );
}
