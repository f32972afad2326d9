// fast-check arbitraries derived from the API schema (operator/src/api/schema.ts), so a field added
// to the schema is fuzzed without a change here. Each node gives values its keywords allow (type,
// enum, pattern, bounds, required); with `invalidWeight` > 0 a node sometimes gives a value they
// forbid instead (a wrong type, a number out of bounds, a string off its pattern, an unknown field,
// a required field left out), so the specs are "valid and invalid, shaped by the schema".
//
// Pass-through fields (x-kubernetes-preserve-unknown-fields: affinity, probes' handlers, HPA
// metrics...) are Kubernetes types whose inside the API server validates, not the operator: they are
// left out, because a refusal of their content is ApplyRefused by design (docs/operations.md).
import fc from 'fast-check';
import type { SchemaNode } from '../../../operator/src/api/schema.ts';

export interface ArbitraryOptions {
  /** Relative weight of an invalid value at each node, against 100 for a valid one. 0: valid only. */
  invalidWeight: number;
  /** Most items of a list, entries of a map. */
  maxItems: number;
  /** Chance that an optional field is present: low, or the cross-field rules refuse nearly everything. */
  presence: number;
}

const DEFAULTS: ArbitraryOptions = { invalidWeight: 0, maxItems: 3, presence: 0.3 };

/**
 * Keys of maps (resources, labels, annotations, selectors) are not in the schema: Kubernetes'
 * well-known ones (which the operator's rules look at), mixed with label-key-shaped and random ones.
 */
const MAP_KEYS = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('cpu', 'memory', 'nvidia.com/gpu', 'ephemeral-storage', 'app', 'team', 'example.com/tier', 'topology.kubernetes.io/zone') },
  { weight: 2, arbitrary: fc.stringMatching(/^([a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z]{2,4})?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?$/) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const ABSENT = Symbol('absent');

function isPassThrough(node: SchemaNode): boolean {
  return node['x-kubernetes-preserve-unknown-fields'] === true;
}

/** Strings that match `pattern`, within the node's length bounds. */
function patterned(node: SchemaNode): fc.Arbitrary<string> {
  const re = new RegExp(node.pattern as string, 'u');
  const min = node.minLength ?? 0;
  const max = node.maxLength ?? 253;
  return fc.stringMatching(re, { size: 'small' }).filter((s) => s.length >= min && s.length <= max);
}

function plainString(node: SchemaNode): fc.Arbitrary<string> {
  return fc.string({ minLength: node.minLength ?? 0, maxLength: Math.min(node.maxLength ?? 24, 24) });
}

function integer(node: SchemaNode): fc.Arbitrary<number> {
  const min = node.minimum ?? (node.format === 'int32' ? -(2 ** 31) : -(2 ** 40));
  const max = node.maximum ?? (node.format === 'int32' ? 2 ** 31 - 1 : 2 ** 40);
  // Small values and the bounds themselves are where mistakes live.
  return fc.oneof(fc.integer({ min: Math.max(min, -5), max: Math.min(max, 20) }).filter((n) => n >= min && n <= max), fc.constantFrom(min, max), fc.integer({ min, max }));
}

/** A value the node's keywords refuse. */
function invalid(node: SchemaNode): fc.Arbitrary<unknown> {
  const wrongType = fc.constantFrom<unknown>(true, 'x', 3.5, [], {}).filter((v) => {
    if (node.type === 'string' || node['x-kubernetes-int-or-string']) return typeof v !== 'string';
    if (node.type === 'integer' || node.type === 'number') return typeof v !== 'number';
    if (node.type === 'boolean') return typeof v !== 'boolean';
    if (node.type === 'array') return !Array.isArray(v);
    if (node.type === 'object') return typeof v !== 'object' || Array.isArray(v);
    return false;
  });
  const options: Array<fc.Arbitrary<unknown>> = [wrongType];
  if (node.minimum !== undefined) options.push(fc.constant(node.minimum - 1));
  if (node.maximum !== undefined) options.push(fc.constant(node.maximum + 1));
  if (node.enum !== undefined) options.push(fc.constantFrom('NotInTheList', 'sklearn2', ''));
  if (node.pattern !== undefined) options.push(fc.constantFrom('Not A Match!', '-x-', ''));
  if (node.maxLength !== undefined) options.push(fc.constant('a'.repeat(node.maxLength + 1)));
  if (node.minLength !== undefined && node.minLength > 0) options.push(fc.constant(''));
  if (node.type === 'object' && node.properties !== undefined) {
    options.push(fc.constant({ notAField: true }));
  }
  return fc.oneof(...options);
}

function objectArbitrary(node: SchemaNode, o: ArbitraryOptions): fc.Arbitrary<Record<string, unknown>> {
  const required = new Set(node.required ?? []);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  const weight = Math.max(1, Math.round((100 * o.presence) / (1 - o.presence)));
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const a = arbitraryFor(child, o);
    if (a === undefined) continue;
    model[key] = required.has(key) ? a : fc.oneof({ weight: 100, arbitrary: fc.constant(ABSENT) }, { weight, arbitrary: a });
  }
  let arb: fc.Arbitrary<Record<string, unknown>> = fc.record(model).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== ABSENT)));
  if (node.additionalProperties !== undefined) {
    const value = arbitraryFor(node.additionalProperties, o) ?? fc.constant('');
    const max = Math.min(node.maxProperties ?? o.maxItems, o.maxItems);
    const dict = fc.dictionary(MAP_KEYS, value, { maxKeys: max });
    arb = node.properties === undefined ? dict : fc.tuple(arb, dict).map(([fixed, extra]) => ({ ...extra, ...fixed }));
  }
  if (o.invalidWeight > 0 && required.size > 0) {
    // Leave a required field out, now and then.
    const dropOne = fc.tuple(arb, fc.constantFrom(...required)).map(([v, k]) => {
      const copy = { ...v };
      delete copy[k];
      return copy;
    });
    arb = fc.oneof({ weight: 100, arbitrary: arb }, { weight: o.invalidWeight, arbitrary: dropOne });
  }
  return arb;
}

/** An arbitrary for the values of `node`; undefined for a pass-through field (left out). */
export function arbitraryFor(node: SchemaNode, options: Partial<ArbitraryOptions> = {}): fc.Arbitrary<unknown> | undefined {
  const o = { ...DEFAULTS, ...options };
  if (isPassThrough(node)) return undefined;
  let valid: fc.Arbitrary<unknown> | undefined;
  if (node.enum !== undefined) valid = fc.constantFrom(...node.enum);
  else if (node['x-kubernetes-int-or-string']) {
    const ints = fc.integer({ min: node.minimum ?? 0, max: 100 });
    valid = fc.oneof(ints, node.pattern !== undefined ? patterned(node) : fc.string({ maxLength: 8 }));
  } else if (node.type === 'string') valid = node.pattern !== undefined ? patterned(node) : plainString(node);
  else if (node.type === 'integer') valid = integer(node);
  else if (node.type === 'number') valid = fc.double({ noNaN: true, noDefaultInfinity: true });
  else if (node.type === 'boolean') valid = fc.boolean();
  else if (node.type === 'array' && node.items !== undefined) {
    const item = arbitraryFor(node.items, o);
    if (item === undefined) return undefined;
    valid = fc.array(item, { minLength: node.minItems ?? 0, maxLength: Math.min(node.maxItems ?? o.maxItems, o.maxItems) });
  } else if (node.type === 'object') valid = objectArbitrary(node, o);
  if (valid === undefined) return undefined;
  return o.invalidWeight > 0 ? fc.oneof({ weight: 100, arbitrary: valid }, { weight: o.invalidWeight, arbitrary: invalid(node) }) : valid;
}

/** metadata.name: a DNS label mostly, sometimes not one (the CEL rule and the operator refuse those). */
export function nameArbitrary(invalidWeight: number): fc.Arbitrary<string> {
  const good = fc.stringMatching(/^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$/);
  return invalidWeight > 0 ? fc.oneof({ weight: 100, arbitrary: good }, { weight: invalidWeight, arbitrary: fc.constantFrom('Upper', '-dash', 'a'.repeat(64), 'with.dot') }) : good;
}
