// What the fuzz tests share (test/unit/api/fuzz.test.ts, test/faults/dry-run.test.ts): ModelDeployments
// drawn from the schema, what the operator makes of one, and a checker for privileges in what it renders.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { specSchema } from '../../../operator/src/api/schema.ts';
import { invalidSpecMessage, validateModelDeployment } from '../../../operator/src/api/validate.ts';
import type { ModelDeployment } from '../../../operator/src/api/types.ts';
import { defaultRenderConfig, renderChildren } from '../../../operator/src/render/index.ts';
import { arbitraryFor, nameArbitrary } from './schema-arbitrary.ts';

/** ModelDeployments whose spec comes from the schema; `invalidWeight` 0 keeps to what it allows. */
export function modelDeployments(invalidWeight: number): fc.Arbitrary<ModelDeployment> {
  const spec = arbitraryFor(specSchema, { invalidWeight });
  assert.ok(spec, 'the spec schema yields an arbitrary');
  return fc.tuple(nameArbitrary(invalidWeight), spec).map(([name, s]) => ({
    apiVersion: 'serving.modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace: 'fuzz', uid: '00000000-0000-4000-8000-000000000000', generation: 1 },
    spec: s as ModelDeployment['spec'],
  }));
}

/** Every place in the rendered children that asks for a privilege; empty when there is none. */
export function privileges(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => privileges(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return [];
  const found: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const here = `${path}.${k}`;
    if ((k === 'privileged' || k === 'hostNetwork' || k === 'hostPID' || k === 'hostIPC' || k === 'hostUsers' || k === 'allowPrivilegeEscalation') && v === true) found.push(here);
    if (k === 'hostPath' || k === 'hostPort') found.push(here);
    if (k === 'add' && path.endsWith('.capabilities') && Array.isArray(v) && v.length > 0) found.push(here);
    found.push(...privileges(v, here));
  }
  return found;
}

/** What the operator makes of one spec: refused with its errors, or the rendered children. */
export function outcome(md: ModelDeployment): { refused: string[]; children?: undefined } | { refused?: undefined; children: object[] } {
  const v = validateModelDeployment(md);
  if (!v.ok) {
    const message = invalidSpecMessage(v.errors);
    for (const e of v.errors) {
      assert.match(e.field, /^(spec|metadata)([.[]|$)/, `an error names no field: ${JSON.stringify(e)}`);
      assert.ok(e.message.trim() !== '', `an error for ${e.field} says nothing`);
      assert.ok(message.includes(e.field), `the status message leaves out ${e.field}`);
    }
    assert.ok(v.errors.length > 0, 'refused without an error');
    return { refused: v.errors.map((e) => e.field) };
  }
  return { children: Object.values(renderChildren(v.value, defaultRenderConfig)) };
}
