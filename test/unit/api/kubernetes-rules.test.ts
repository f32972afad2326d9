// The API server's rules for the fields copied into the children. Every refused case below is a
// shrunk counterexample of the property-based test (test/faults/dry-run.test.ts): a spec the operator
// accepted, rendered, and the API server then refused; now the operator refuses it, naming the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelDeploymentSpec } from '../../../operator/src/api/types.ts';
import { validateModelDeployment } from '../../../operator/src/api/validate.ts';
import { isContainerResourceName, isQualifiedName } from '../../../operator/src/api/kubernetes-rules.ts';
import { mdep } from './fixtures.ts';

const cases: Array<{ name: string; spec: Partial<ModelDeploymentSpec>; field?: string; message?: RegExp }> = [
  // resources (ValidateResourceRequirements)
  { name: 'a resource name without a domain', spec: { resources: { limits: { A: 0 } } }, field: 'spec.resources.limits.A', message: /not a resource a container can ask for/ },
  { name: 'a resource in the kubernetes.io domain', spec: { resources: { limits: { 'kubernetes.io/foo': 1 } } }, field: 'spec.resources.limits[kubernetes.io/foo]' },
  { name: 'a negative quantity', spec: { resources: { limits: { 'ephemeral-storage': '-2694290592.73694' } } }, field: 'spec.resources.limits.ephemeral-storage', message: /must not be negative/ },
  { name: 'a fraction of a GPU', spec: { resources: { limits: { 'nvidia.com/gpu': '+7m' } } }, field: 'spec.resources.limits[nvidia.com/gpu]', message: /whole number/ },
  { name: 'an extended resource requested without a limit', spec: { resources: { requests: { 'example.com/fpga': 34 } } }, field: 'spec.resources.requests[example.com/fpga]', message: /cannot be overcommitted/ },
  { name: 'an extended resource whose request differs from its limit', spec: { resources: { requests: { 'nvidia.com/gpu': 1 }, limits: { 'nvidia.com/gpu': 2 } } }, field: 'spec.resources.requests[nvidia.com/gpu]', message: /must equal/ },
  { name: 'a GPU count that only a float rounds to whole', spec: { resources: { limits: { 'nvidia.com/gpu': '+717069e-18' } } }, field: 'spec.resources.limits[nvidia.com/gpu]', message: /whole number/ },
  { name: 'an extended resource in Pi with a fraction', spec: { resources: { limits: { 'example.com/tier': '0782.6058970Pi' } } }, field: 'spec.resources.limits[example.com/tier]', message: /whole number/ },
  { name: 'an exponent the API server stalls on', spec: { resources: { limits: { 'example.com/x': '.181002E-238285861' } } }, field: 'spec.resources.limits[example.com/x]', message: /exponent of at most 18/ },
  { name: 'an extended resource beyond the API server\'s 64-bit thousandths', spec: { resources: { limits: { '0/A': '10000000000Mi' } } }, field: 'spec.resources.limits[0/A]', message: /at most 9223372036854775\b/ },
  { name: 'an extended resource one above the largest count', spec: { resources: { limits: { 'example.com/x': '9223372036854776' } } }, field: 'spec.resources.limits[example.com/x]', message: /at most 9223372036854775\b/ },
  { name: 'the largest count of an extended resource', spec: { resources: { requests: { 'example.com/x': '9223372036854775' }, limits: { 'example.com/x': '9223372036854775' } } } },
  { name: 'an extended resource request that a float takes for its limit', spec: { resources: { requests: { 'example.com/x': '9007199254740993' }, limits: { 'example.com/x': '9007199254740992' } } }, field: 'spec.resources.requests[example.com/x]', message: /limits\[example\.com\/x\] \(9007199254740992\)/ },
  { name: 'whole GPUs written in every way', spec: { resources: { limits: { 'nvidia.com/gpu': '2000m', 'example.com/a': '1e3', 'example.com/b': '1Ki', 'example.com/c': '0.5Ki', 'example.com/d': '1.50e1' } } } },
  { name: 'a request above its limit', spec: { resources: { requests: { cpu: '2' }, limits: { cpu: '1500m' } } }, field: 'spec.resources.requests.cpu', message: /at most spec\.resources\.limits\.cpu/ },
  { name: 'a quantity with a decimal exponent (the schema pattern)', spec: { resources: { limits: { cpu: '+.8598419E.02466' } } }, field: 'spec.resources.limits.cpu', message: /quantity/ },
  { name: 'requests within limits, a GPU request equal to its limit', spec: { resources: { requests: { cpu: '500m', 'nvidia.com/gpu': 1 }, limits: { cpu: 1, 'nvidia.com/gpu': '1' } } } },
  { name: 'cpu and memory requests without limits', spec: { resources: { requests: { cpu: '100m', memory: '128Mi' } } } },
  // probes (validateProbe and its callers)
  { name: 'a liveness probe that must succeed twice', spec: { runtime: { livenessProbe: { successThreshold: 2 } } }, field: 'spec.runtime.livenessProbe.successThreshold', message: /must be 1 for a liveness probe/ },
  { name: 'a startup probe that must succeed three times', spec: { runtime: { startupProbe: { successThreshold: 3 } } }, field: 'spec.runtime.startupProbe.successThreshold' },
  { name: 'a readiness probe with a grace period', spec: { runtime: { readinessProbe: { terminationGracePeriodSeconds: 24 } } }, field: 'spec.runtime.readinessProbe.terminationGracePeriodSeconds' },
  { name: 'a readiness probe that must succeed twice', spec: { runtime: { readinessProbe: { successThreshold: 2 } } } },
  // scheduling (ValidateNodeSelector, validateTolerations)
  { name: 'a node selector value that is no label value', spec: { scheduling: { nodeSelector: { team: '3~|&T<#' } } }, field: 'spec.scheduling.nodeSelector.team', message: /label value/ },
  { name: 'a node selector key that is no label key', spec: { scheduling: { nodeSelector: { 's/:rr3:F': 'x' } } }, field: 'spec.scheduling.nodeSelector[s/:rr3:F]' },
  { name: 'a toleration with no key and operator Equal', spec: { scheduling: { tolerations: [{ effect: '' }] } }, field: 'spec.scheduling.tolerations[0].operator', message: /must be Exists when key is empty/ },
  { name: 'tolerationSeconds without NoExecute', spec: { scheduling: { tolerations: [{ operator: 'Exists', tolerationSeconds: 17 }] } }, field: 'spec.scheduling.tolerations[0].tolerationSeconds' },
  { name: 'a toleration key that is no qualified name', spec: { scheduling: { tolerations: [{ key: '_$%0_d', operator: 'Exists' }] } }, field: 'spec.scheduling.tolerations[0].key' },
  { name: 'a value with operator Exists', spec: { scheduling: { tolerations: [{ key: 'gpu', operator: 'Exists', value: 'x' }] } }, field: 'spec.scheduling.tolerations[0].value' },
  { name: 'a GPU pool toleration', spec: { scheduling: { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists' }] } } },
  // annotations (ValidateAnnotations)
  { name: 'a Service annotation key with a caret', spec: { service: { annotations: { '^$K$e=Ef': '-v0R' } } }, field: 'spec.service.annotations[^$K$e=Ef]' },
  { name: 'an empty pod annotation key', spec: { pod: { annotations: { '': 'x' } } }, field: 'spec.pod.annotations[]' },
  { name: 'a load balancer annotation', spec: { service: { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' } } } },
];

describe('the API server\'s rules for what reaches the children', () => {
  for (const c of cases) {
    it(c.field ? `refuses ${c.name}, naming ${c.field}` : `accepts ${c.name}`, () => {
      const v = validateModelDeployment(mdep(c.spec));
      if (!c.field) {
        assert.ok(v.ok, v.ok ? '' : JSON.stringify(v.errors));
        return;
      }
      assert.ok(!v.ok, 'the spec was accepted');
      const e = v.errors.find((x) => x.field === c.field);
      assert.ok(e, `no error names ${c.field}: ${JSON.stringify(v.errors)}`);
      if (c.message) assert.match(e.message, c.message);
    });
  }

  it('knows qualified names and container resource names', () => {
    assert.deepEqual(['app', 'example.com/tier', 'a/b', 'A_b.c', 'x'.repeat(63)].map(isQualifiedName), [true, true, true, true, true]);
    assert.deepEqual(['', '/a', 'Ex.com/a', 'a/', '-a', 'x'.repeat(64), 'a/b/c'].map(isQualifiedName), [false, false, false, false, false, false, false]);
    assert.deepEqual(['cpu', 'memory', 'ephemeral-storage', 'hugepages-2Mi', 'nvidia.com/gpu', 'amd.com/gpu'].map(isContainerResourceName), [true, true, true, true, true, true]);
    assert.deepEqual(['gpu', 'storage', 'kubernetes.io/x', 'requests.a/b', 'A/b'].map(isContainerResourceName), [false, false, false, false, false]);
  });
});
