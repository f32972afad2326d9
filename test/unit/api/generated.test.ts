// The types and the CRD are generated from schema.ts; these fail when someone forgot to regenerate.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { CRD_PATH, CRD_TEMPLATE_PATH, crdObject, renderCrdTemplate, renderCrdYaml } from '../../../operator/src/api/generate-crd.ts';
import { renderTypesTs, TYPES_PATH } from '../../../operator/src/api/generate-types.ts';
import { renderValidatorTs, VALIDATOR_PATH } from '../../../operator/src/api/generate-validator.ts';

test('types.ts matches the schema (run: npm run gen:crd)', () => {
  assert.equal(readFileSync(TYPES_PATH, 'utf8'), renderTypesTs());
});

test('spec-validator.generated.ts matches the schema (run: npm run gen:crd)', () => {
  assert.equal(readFileSync(VALIDATOR_PATH, 'utf8'), renderValidatorTs());
});

test('crds/ matches the schema (run: npm run gen:crd)', () => {
  assert.equal(readFileSync(CRD_PATH, 'utf8'), renderCrdYaml());
});

test('the chart\'s templates/crd.yaml matches the schema (run: npm run gen:crd)', () => {
  assert.equal(readFileSync(CRD_TEMPLATE_PATH, 'utf8'), renderCrdTemplate());
});

test('the chart\'s template holds the same CRD, guarded by crds.install and kept by crds.keep', () => {
  const lines = renderCrdTemplate().split('\n');
  assert.equal(lines[0], '{{- if .Values.crds.install }}');
  assert.equal(lines.at(-2), '{{- end }}');
  const keep = lines.indexOf('  {{- if .Values.crds.keep }}');
  assert.deepEqual(lines.slice(keep, keep + 4), ['  {{- if .Values.crds.keep }}', '  annotations:', '    helm.sh/resource-policy: keep', '  {{- end }}']);
  // Without the template lines, it is the CRD (helm template's output is compared in the chart's integration test).
  const plain = parse(lines.filter((l) => !l.includes('{{') && !l.includes('helm.sh/resource-policy') && l !== '  annotations:').join('\n')) as ReturnType<typeof crdObject>;
  const { metadata: _, ...rest } = crdObject();
  const { metadata, ...templated } = plain as Record<string, unknown>;
  assert.deepEqual(templated, rest);
  assert.deepEqual(metadata, { name: 'modeldeployments.serving.modelship.dev', labels: { 'app.kubernetes.io/component': 'crd' } });
});
