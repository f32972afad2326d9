// Validation of a ModelDeployment by the operator: ajv's validator for the same schema as the CRD
// (compiled in advance: spec-validator.generated.ts), then the semantic rules, then defaults. The
// API server has already run the CRD schema and CEL rules; this catches what they cannot and gives
// every error a plain-words message.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { withDefaults } from './defaults.ts';
import { formatFieldErrors } from './errors.ts';
import type { FieldError } from './errors.ts';
import { PATTERN_HINTS } from './schema.ts';
import { semanticErrors } from './semantic.ts';
import generatedValidator from './spec-validator.generated.ts';
import type { ModelDeployment } from './types.ts';

export { formatFieldErrors };
export type { FieldError };

declare const validBrand: unique symbol;
/**
 * A ModelDeployment that passed validation, with every default applied: the only input render
 * takes, so defaults are applied once, here.
 */
export type ValidModelDeployment = ModelDeployment & { readonly [validBrand]: true };

export type ValidationResult = { ok: true; value: ValidModelDeployment } | { ok: false; errors: FieldError[] };

const validateRoot = generatedValidator as unknown as ValidateFunction;

/** `/spec/resources/limits/nvidia.com~1gpu` → `spec.resources.limits[nvidia.com/gpu]`. */
export function instancePathToField(instancePath: string): string {
  let field = '';
  for (const raw of instancePath.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^[0-9]+$/.test(seg) || /[./]/.test(seg)) field += `[${seg}]`;
    else field += field === '' ? seg : `.${seg}`;
  }
  return field;
}

function join(field: string, child: string): string {
  return /[./]/.test(child) ? `${field}[${child}]` : field === '' ? child : `${field}.${child}`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
    }
  }
  return d[a.length]![b.length]!;
}

function suggestion(unknown: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [k, dist];
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3))) return `; did you mean ${best}?`;
  return known.length > 0 ? `; known fields are ${known.join(', ')}` : '';
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a map of fields',
  array: 'a list',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function ajvErrorToFieldError(e: ErrorObject): FieldError {
  const field = instancePathToField(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { field: join(field, String(p['missingProperty'])), message: 'is required' };
    case 'additionalProperties': {
      const name = String(p['additionalProperty']);
      const known = Object.keys((e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
      return { field: join(field, name), message: `is not a known field${suggestion(name, known)}` };
    }
    case 'enum':
      return { field, message: `must be one of: ${(p['allowedValues'] as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { field, message: `must be ${String(p['allowedValue'])}` };
    case 'type':
      return { field, message: `must be ${TYPE_WORDS[String(p['type'])] ?? String(p['type'])}` };
    case 'anyOf':
      return { field, message: 'must be a whole number or a string' };
    case 'minimum':
      return { field, message: `must be at least ${String(p['limit'])}` };
    case 'maximum':
      return { field, message: `must be at most ${String(p['limit'])}` };
    case 'minLength':
      return { field, message: p['limit'] === 1 ? 'must not be empty' : `must be at least ${plural(Number(p['limit']), 'character')} long` };
    case 'maxLength':
      return { field, message: `must be at most ${plural(Number(p['limit']), 'character')} long` };
    case 'minItems':
      return { field, message: `must have at least ${plural(Number(p['limit']), 'item')}` };
    case 'maxItems':
      return { field, message: `must have at most ${plural(Number(p['limit']), 'item')}` };
    case 'maxProperties':
      return { field, message: `must have at most ${plural(Number(p['limit']), 'entry')}`.replace('entrys', 'entries') };
    case 'pattern': {
      const hint = PATTERN_HINTS.get(String(p['pattern']));
      return { field, message: hint !== undefined ? `must be ${hint}` : `must match ${String(p['pattern'])}` };
    }
    default:
      return { field, message: e.message ?? 'is invalid' };
  }
}

/** Turns ajv's errors into one error per problem, in document order, without the noise of anyOf branches. */
export function toFieldErrors(ajvErrors: readonly ErrorObject[]): FieldError[] {
  const anyOfPaths = ajvErrors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.instancePath}|${e.schemaPath}/`);
  // An empty string also fails its pattern; saying it is empty is enough.
  const emptyPaths = new Set(ajvErrors.filter((e) => e.keyword === 'minLength' && e.params['limit'] === 1).map((e) => e.instancePath));
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of ajvErrors) {
    if (anyOfPaths.some((prefix) => `${e.instancePath}|${e.schemaPath}`.startsWith(prefix))) continue;
    if (e.keyword === 'pattern' && emptyPaths.has(e.instancePath)) continue;
    const fe = ajvErrorToFieldError(e);
    const key = `${fe.field}\u0000${fe.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(fe);
    }
  }
  return out;
}

/** What the operator writes on the status (Ready and Stalled) and in the Event for an invalid spec. */
export function invalidSpecMessage(errors: readonly FieldError[]): string {
  return `The spec is invalid: ${formatFieldErrors(errors)}`;
}

export function validateModelDeployment(obj: unknown): ValidationResult {
  if (!validateRoot(obj)) return { ok: false, errors: toFieldErrors(validateRoot.errors ?? []) };
  const md = obj as ModelDeployment;
  const errors = semanticErrors(md);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: withDefaults(md) as ValidModelDeployment };
}
