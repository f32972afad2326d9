// Decides whether an observed child already holds what we would apply, so that a steady state
// makes no write calls. Server-side apply only owns the fields we send, so "in shape" means every
// field we send is present with an equal value; fields others added (defaults, clusterIP, the
// HPA's replicas) are not ours to judge.

import { parseQuantity } from '../api/quantity.ts';

export { parseQuantity };

function scalarEqual(want: unknown, got: unknown): boolean {
  if (want === got) return true;
  // The server canonicalises quantities ("1000m" → "1", 1 → "1"): compare their values.
  if ((typeof want === 'string' || typeof want === 'number') && (typeof got === 'string' || typeof got === 'number')) {
    const a = typeof want === 'number' ? want : parseQuantity(want);
    const b = typeof got === 'number' ? got : parseQuantity(got);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
  }
  return false;
}

/**
 * True when `observed` holds every field of `desired` with an equal value. Lists must match item
 * by item (same length), since server-side apply replaces atomic lists and merges keyed lists in
 * the order we send. An empty object or list we send matches an absent one: the server drops them.
 */
export function containsDesired(desired: unknown, observed: unknown): boolean {
  // Runs on every child of every pass: loops, not Object.entries() and every(), which allocated
  // an array per object and per key (8 % of all the operator allocated under load).
  if (desired === undefined) return true;
  if (desired === null) return observed === undefined || observed === null;
  const absentOrObject = observed === undefined || observed === null || typeof observed === 'object';
  if (Array.isArray(desired)) {
    if (desired.length === 0) return absentOrObject;
    if (!Array.isArray(observed) || observed.length !== desired.length) return false;
    for (let i = 0; i < desired.length; i++) if (!containsDesired(desired[i], observed[i])) return false;
    return true;
  }
  if (typeof desired === 'object') {
    const d = desired as Record<string, unknown>;
    const isObject = typeof observed === 'object' && observed !== null && !Array.isArray(observed);
    let empty = true;
    for (const k in d) {
      if (!Object.hasOwn(d, k)) continue;
      empty = false;
      if (!isObject || !containsDesired(d[k], (observed as Record<string, unknown>)[k])) return false;
    }
    return empty ? absentOrObject : true;
  }
  return scalarEqual(desired, observed);
}

/** Paths where `observed` differs from `desired` (for log lines and events). */
export function differingPaths(desired: unknown, observed: unknown, path = ''): string[] {
  if (containsDesired(desired, observed)) return [];
  if (desired && typeof desired === 'object' && !Array.isArray(desired) && observed && typeof observed === 'object' && !Array.isArray(observed)) {
    const o = observed as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).flatMap(([k, v]) => differingPaths(v, o[k], path ? `${path}.${k}` : k));
  }
  return [path || '.'];
}
