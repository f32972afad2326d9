// What the generated CRD promises users: kubectl explain, columns, subresources, CEL rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderCrdYaml } from '../../../operator/src/api/generate-crd.ts';
import { CROSS_FIELD_RULES, PATTERN_HINTS, specSchema } from '../../../operator/src/api/schema.ts';
import type { SchemaNode } from '../../../operator/src/api/schema.ts';

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames: string[]; categories: string[]; listKind: string };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: SchemaNode };
      subresources: { status: object; scale: Record<string, string> };
      additionalPrinterColumns: Array<{ name: string; jsonPath: string; type: string; priority?: number }>;
    }>;
  };
}

const crd = parse(renderCrdYaml()) as Crd;
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

function walk(node: SchemaNode, path: string, visit: (node: SchemaNode, path: string) => void): void {
  visit(node, path);
  for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${k}`, visit);
  if (node.items !== undefined) walk(node.items, `${path}[]`, visit);
}

test('names, scope and version', () => {
  assert.equal(crd.metadata.name, 'modeldeployments.serving.modelship.dev');
  assert.equal(crd.spec.group, 'serving.modelship.dev');
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.deepEqual(crd.spec.names, {
    kind: 'ModelDeployment',
    listKind: 'ModelDeploymentList',
    plural: 'modeldeployments',
    singular: 'modeldeployment',
    shortNames: ['mdep'],
    categories: ['modelship'],
  });
  assert.equal(crd.spec.versions.length, 1);
  assert.equal(version.name, 'v1alpha1');
  assert.ok(version.served && version.storage);
});

test('status and scale subresources', () => {
  assert.deepEqual(version.subresources, {
    status: {},
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
  });
});

test('printer columns Model, Version, Ready, Reason, Replicas, Desired, Canary, URL, Age (and Scaled, Limited with -o wide)', () => {
  assert.deepEqual(
    version.additionalPrinterColumns.map((c) => c.name),
    ['Model', 'Version', 'Ready', 'Reason', 'Replicas', 'Desired', 'Canary', 'Scaled', 'Limited', 'URL', 'Age'],
  );
  assert.deepEqual(version.additionalPrinterColumns.filter((c) => c.priority === 1).map((c) => c.name), ['Scaled', 'Limited']);
  const limited = version.additionalPrinterColumns.find((c) => c.name === 'Limited');
  assert.equal(limited?.jsonPath, '.status.autoscaling.conditions[?(@.type=="ScalingLimited")].reason');
  const ready = version.additionalPrinterColumns.find((c) => c.name === 'Ready');
  assert.equal(ready?.jsonPath, '.status.conditions[?(@.type=="Ready")].status');
  const reason = version.additionalPrinterColumns.find((c) => c.name === 'Reason');
  assert.equal(reason?.jsonPath, '.status.conditions[?(@.type=="Ready")].reason');
  assert.equal(version.additionalPrinterColumns.at(-1)?.type, 'date');
});

test('every field under spec and status has a description, so kubectl explain is useful', () => {
  const missing: string[] = [];
  for (const key of ['spec', 'status']) {
    walk(root.properties![key]!, key, (node, path) => {
      if (node.description === undefined || node.description.length < 10) missing.push(path);
    });
  }
  assert.deepEqual(missing, []);
});

test('conditions are a map list keyed by type', () => {
  const conditions = root.properties!['status']!.properties!['conditions']!;
  assert.equal(conditions['x-kubernetes-list-type'], 'map');
  assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  assert.deepEqual(conditions.items?.required, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);
});

test('the status is atomic: the operator owns all of it, and server-side apply tracks it as one field', () => {
  const status = root.properties!['status']!;
  assert.equal(status['x-kubernetes-map-type'], 'atomic');
});

test('the CRD carries exactly the cross-field rules, with the messages the operator uses', () => {
  const found: Array<{ rule: string; message: string }> = [];
  walk(root, '', (node) => {
    for (const v of node['x-kubernetes-validations'] ?? []) found.push({ rule: v.rule, message: v.message });
  });
  const expected = Object.values(CROSS_FIELD_RULES).map((r) => ({ rule: r.rule, message: r.message }));
  const key = (r: { rule: string }) => r.rule;
  assert.deepEqual([...found].sort((a, b) => key(a).localeCompare(key(b))), [...expected].sort((a, b) => key(a).localeCompare(key(b))));
});

test('lists and maps under spec are bounded, which keeps CEL within its cost budget', () => {
  const unbounded: string[] = [];
  walk(root.properties!['spec']!, 'spec', (node, path) => {
    if (node.type === 'array' && node.maxItems === undefined) unbounded.push(path);
    if (node.type === 'object' && node.additionalProperties !== undefined && node.maxProperties === undefined) unbounded.push(path);
  });
  assert.deepEqual(unbounded, []);
});

test('int-or-string fields use the one anyOf form a structural schema allows', () => {
  const bad: string[] = [];
  walk(root, '', (node, path) => {
    if (node['x-kubernetes-int-or-string']) {
      if (JSON.stringify(node.anyOf) !== JSON.stringify([{ type: 'integer' }, { type: 'string' }]) || node.type !== undefined) bad.push(path);
    }
  });
  assert.deepEqual(bad, []);
});

test('no generator-only keys reach the CRD', () => {
  assert.doesNotMatch(renderCrdYaml(), /x-modelship-/);
});

test('every pattern in the spec has a plain-words hint for error messages', () => {
  const noHint: string[] = [];
  const check = (node: SchemaNode, path: string) => {
    if (node.pattern !== undefined && !PATTERN_HINTS.has(node.pattern)) noHint.push(path);
    if (node.additionalProperties !== undefined) check(node.additionalProperties, `${path}{}`);
  };
  walk(specSchema, 'spec', check);
  assert.deepEqual(noHint, []);
});

test('safe defaults only: the service type and port, and the status until the operator writes one', () => {
  const defaults: Record<string, unknown> = {};
  walk(root, '', (node, path) => {
    if (node.default !== undefined) defaults[path] = node.default;
  });
  assert.deepEqual(defaults, { '.spec.service': {}, '.spec.service.type': 'ClusterIP', '.spec.service.port': 80, '.status': { observedGeneration: 0 } });
});
