import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { BUILTIN_RUNTIMES } from '../../../operator/src/runtimes/index.ts';
import { readChartFile } from './chart-files.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  oneOf?: SchemaNode[];
}

const schema = JSON.parse(readChartFile('values.schema.json')) as SchemaNode;
const defaults = parse(readChartFile('values.yaml')) as Record<string, Json>;
const allValues = parse(readChartFile('ci/all-values.yaml')) as Record<string, Json>;

// Helm 3 and 4 both read draft-07. strict catches keywords that Helm would silently ignore.
const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
const validate = ajv.compile(schema);

// Kubernetes objects the chart passes through unchanged: their inner fields are Kubernetes' to check.
const PASSTHROUGH = new Set(['global', 'affinity.nodeAffinity', 'affinity.podAffinity', 'affinity.podAntiAffinity']);

function errorsOf(values: unknown): ErrorObject[] {
  return validate(values) ? [] : [...(validate.errors ?? [])];
}

function withChange(path: string, value: Json | undefined): Record<string, Json> {
  const copy = structuredClone(defaults);
  const keys = path.split('.');
  let node = copy as Record<string, Json>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, Json>;
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

describe('values.schema.json', () => {
  it('accepts the default values.yaml', () => {
    assert.deepEqual(errorsOf(defaults), []);
  });

  it('accepts ci/all-values.yaml merged over the defaults', () => {
    assert.deepEqual(errorsOf({ ...defaults, ...allValues }), []);
  });

  it('accepts ci/all-values.yaml on its own, so it sets every top-level value', () => {
    assert.deepEqual(errorsOf(allValues), []);
  });

  it('accepts a global block, which Helm adds when the chart is a subchart', () => {
    assert.deepEqual(errorsOf({ ...defaults, global: { imageRegistry: 'x' } }), []);
  });

  // Each bad value must fail at its own path with the keyword that catches it.
  const rejected: { name: string; path: string; value: Json | undefined; at: string; keyword: string }[] = [
    { name: 'a typo at the top level', path: 'replicaCont', value: 2, at: '', keyword: 'additionalProperties' },
    { name: 'a typo in image', path: 'image.tagg', value: 'v1', at: '/image', keyword: 'additionalProperties' },
    { name: 'a typo in leaderElection', path: 'leaderElection.enable', value: true, at: '/leaderElection', keyword: 'additionalProperties' },
    { name: 'a typo in serviceMonitor', path: 'serviceMonitor.enable', value: true, at: '/serviceMonitor', keyword: 'additionalProperties' },
    { name: 'a typo in metrics.service', path: 'metrics.service.ports', value: 1, at: '/metrics/service', keyword: 'additionalProperties' },
    { name: 'a typo in resources', path: 'resources.request', value: {}, at: '/resources', keyword: 'additionalProperties' },
    { name: 'a typo in a toleration', path: 'tolerations', value: [{ key: 'a', operater: 'Exists' }], at: '/tolerations/0', keyword: 'additionalProperties' },
    { name: 'replicaCount as a string', path: 'replicaCount', value: '2', at: '/replicaCount', keyword: 'type' },
    { name: 'replicaCount as a fraction', path: 'replicaCount', value: 1.5, at: '/replicaCount', keyword: 'type' },
    { name: 'a negative replicaCount', path: 'replicaCount', value: -1, at: '/replicaCount', keyword: 'minimum' },
    { name: 'leaderElection.enabled as a string', path: 'leaderElection.enabled', value: 'yes', at: '/leaderElection/enabled', keyword: 'type' },
    { name: 'an unknown log level', path: 'logLevel', value: 'verbose', at: '/logLevel', keyword: 'enum' },
    { name: 'concurrency 0', path: 'concurrency', value: 0, at: '/concurrency', keyword: 'minimum' },
    { name: 'concurrency above the operator limit of 100', path: 'concurrency', value: 101, at: '/concurrency', keyword: 'maximum' },
    { name: 'watchNamespaces as a comma string', path: 'watchNamespaces', value: 'a,b', at: '/watchNamespaces', keyword: 'type' },
    { name: 'an invalid namespace name', path: 'watchNamespaces', value: ['Team_A'], at: '/watchNamespaces/0', keyword: 'pattern' },
    { name: 'a namespace twice', path: 'watchNamespaces', value: ['a', 'a'], at: '/watchNamespaces', keyword: 'uniqueItems' },
    { name: 'runtimeImages as a list', path: 'runtimeImages', value: ['mlserver=img'], at: '/runtimeImages', keyword: 'type' },
    { name: 'a runtime name with capitals', path: 'runtimeImages', value: { MLServer: 'img:1' }, at: '/runtimeImages', keyword: 'propertyNames' },
    { name: 'a runtime name with a typo', path: 'runtimeImages', value: { trition: 'img:1' }, at: '/runtimeImages', keyword: 'propertyNames' },
    { name: 'a runtime image with a space', path: 'runtimeImages', value: { mlserver: 'img :1' }, at: '/runtimeImages/mlserver', keyword: 'pattern' },
    { name: 'an image pull policy in lower case', path: 'image.pullPolicy', value: 'always', at: '/image/pullPolicy', keyword: 'enum' },
    { name: 'a digest without sha256:', path: 'image.digest', value: 'abc', at: '/image/digest', keyword: 'pattern' },
    { name: 'a repository with a tag in it', path: 'image.repository', value: 'ghcr.io/modelship/modelship:0.1.0', at: '/image/repository', keyword: 'pattern' },
    { name: 'imagePullSecrets as strings', path: 'imagePullSecrets', value: ['regcred'], at: '/imagePullSecrets/0', keyword: 'type' },
    { name: 'a pod label value as a number', path: 'podLabels', value: { team: 3 }, at: '/podLabels/team', keyword: 'type' },
    { name: 'a resource quantity with a unit typo', path: 'resources.limits', value: { memory: '512MB' }, at: '/resources/limits/memory', keyword: 'pattern' },
    { name: 'a PDB minAvailable in words', path: 'podDisruptionBudget.minAvailable', value: 'half', at: '/podDisruptionBudget/minAvailable', keyword: 'oneOf' },
    { name: 'a scrape interval in words', path: 'serviceMonitor.interval', value: '30 seconds', at: '/serviceMonitor/interval', keyword: 'pattern' },
    { name: 'an unknown whenUnsatisfiable', path: 'topologySpread.whenUnsatisfiable', value: 'Never', at: '/topologySpread/whenUnsatisfiable', keyword: 'enum' },
    { name: 'a metrics port out of range', path: 'metrics.service.port', value: 70000, at: '/metrics/service/port', keyword: 'maximum' },
    { name: 'a missing image block', path: 'image', value: undefined, at: '', keyword: 'required' },
    { name: 'a toleration effect typo', path: 'tolerations', value: [{ key: 'a', operator: 'Exists', effect: 'NoSchedul' }], at: '/tolerations/0/effect', keyword: 'enum' },
    { name: 'an affinity typo', path: 'affinity', value: { nodeAfinity: {} }, at: '/affinity', keyword: 'additionalProperties' },
  ];
  for (const c of rejected) {
    it(`rejects ${c.name}`, () => {
      const errors = errorsOf(withChange(c.path, c.value));
      assert.ok(
        errors.some((e) => e.instancePath === c.at && e.keyword === c.keyword),
        `expected a "${c.keyword}" error at "${c.at}", got ${JSON.stringify(errors.map((e) => [e.instancePath, e.keyword]))}`,
      );
    });
  }

  it('closes every object (additionalProperties) except Kubernetes objects passed through', () => {
    const open: string[] = [];
    const walk = (node: SchemaNode, path: string): void => {
      const types = Array.isArray(node.type) ? node.type : [node.type];
      if (types.includes('object') && node.additionalProperties === undefined && !PASSTHROUGH.has(path)) open.push(path || '(root)');
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, path ? `${path}.${key}` : key);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`);
      if (node.items) walk(node.items, `${path}[]`);
      for (const alt of node.oneOf ?? []) walk(alt, path);
    };
    walk(schema, '');
    assert.deepEqual(open, []);
  });

  it('lists in values.yaml every value it defines, so each is documented there', () => {
    const missing: string[] = [];
    const walk = (node: SchemaNode, value: Json | undefined, path: string): void => {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        const childPath = path ? `${path}.${key}` : key;
        if (PASSTHROUGH.has(childPath)) continue;
        const present = value !== null && typeof value === 'object' && !Array.isArray(value) && key in value;
        if (!present) missing.push(childPath);
        else walk(child, (value as Record<string, Json>)[key], childPath);
      }
    };
    walk(schema, defaults, '');
    assert.deepEqual(missing, []);
  });
});

describe('runtimeImages', () => {
  it('accepts exactly the built-in runtime names of operator/src/runtimes', () => {
    const names = (schema.properties?.runtimeImages as { propertyNames?: { enum?: string[] } }).propertyNames?.enum ?? [];
    assert.deepEqual([...names].sort(), Object.keys(BUILTIN_RUNTIMES).sort());
  });
});

describe('values.yaml', () => {
  it('has a comment right above every key', () => {
    const lines = readChartFile('values.yaml').split('\n');
    const undocumented: string[] = [];
    lines.forEach((line, i) => {
      const key = /^(\s*)([A-Za-z][\w.-]*):/.exec(line);
      if (!key) return;
      const above = lines[i - 1] ?? '';
      if (!/^\s*#/.test(above)) undocumented.push(`line ${i + 1}: ${line.trim()}`);
    });
    assert.deepEqual(undocumented, []);
  });
});
