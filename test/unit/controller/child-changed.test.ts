// Which changes of a child wake its ModelDeployment: what the status reports, and drift.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childChanged, modelDeploymentChanged } from '../../../operator/src/controller/controller.ts';
import type { ChildKind } from '../../../operator/src/controller/reconcile.ts';
import type { KubeObject } from '../../../operator/src/kube/types.ts';

function child(kind: ChildKind, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name: 'iris', namespace: 'ns', resourceVersion: '1', generation: 1, labels: { a: 'b' } }, spec: { x: 1 }, ...extra } as KubeObject;
}

function wakes(kind: ChildKind, before: KubeObject, after: KubeObject): boolean {
  return childChanged(kind, after, before);
}

describe('childChanged', () => {
  const kinds: ChildKind[] = ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget'];
  for (const kind of kinds) {
    it(`${kind}: a new resourceVersion alone wakes nothing; a spec, label or deletion does`, () => {
      const o = child(kind);
      assert.equal(wakes(kind, o, { ...o, metadata: { ...o.metadata, resourceVersion: '2', managedFields: [] } }), false);
      // The API server raises the generation with the spec (a Service has none: its spec is compared).
      const specChange = kind === 'Service' ? { ...o, spec: { x: 2 } } : { ...o, spec: { x: 2 }, metadata: { ...o.metadata, generation: 2 } };
      assert.equal(wakes(kind, o, specChange as KubeObject), true);
      assert.equal(wakes(kind, o, { ...o, metadata: { ...o.metadata, labels: { a: 'c' } } }), true);
      assert.equal(wakes(kind, o, { ...o, metadata: { ...o.metadata, deletionTimestamp: '2026-11-30T00:00:00Z' } }), true);
    });
  }

  it('Deployment: any change of its status wakes the model', () => {
    const o = child('Deployment', { status: { replicas: 1, readyReplicas: 0 } });
    assert.equal(wakes('Deployment', o, { ...o, status: { replicas: 1, readyReplicas: 1 } } as KubeObject), true);
  });

  it('HorizontalPodAutoscaler: a scale or a condition wakes the model, the live metric values do not', () => {
    const metrics = (v: number) => [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: v } } }];
    const o = child('HorizontalPodAutoscaler', { status: { currentReplicas: 1, desiredReplicas: 1, currentMetrics: metrics(10) } });
    assert.equal(wakes('HorizontalPodAutoscaler', o, { ...o, status: { currentReplicas: 1, desiredReplicas: 1, currentMetrics: metrics(55) } } as KubeObject), false);
    assert.equal(wakes('HorizontalPodAutoscaler', o, { ...o, status: { currentReplicas: 1, desiredReplicas: 3, currentMetrics: metrics(55) } } as KubeObject), true);
    assert.equal(wakes('HorizontalPodAutoscaler', o, { ...o, status: { currentReplicas: 1, desiredReplicas: 1, currentMetrics: metrics(10), conditions: [{ type: 'ScalingActive', status: 'True' }] } } as KubeObject), true);
  });

  it('PodDisruptionBudget and Service: their status is not reported, so it wakes nothing', () => {
    const pdb = child('PodDisruptionBudget', { status: { currentHealthy: 0, disruptionsAllowed: 0 } });
    assert.equal(wakes('PodDisruptionBudget', pdb, { ...pdb, status: { currentHealthy: 1, disruptionsAllowed: 1 } } as KubeObject), false);
    const svc = child('Service', { status: {} });
    assert.equal(wakes('Service', svc, { ...svc, status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } } as KubeObject), false);
  });
});

describe('modelDeploymentChanged', () => {
  const md = { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'iris', namespace: 'ns', uid: 'u1', resourceVersion: '1', generation: 1 }, spec: { x: 1 } } as KubeObject;
  const with_ = (metadata: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...md, ...extra, metadata: { ...md.metadata, resourceVersion: '2', ...metadata } }) as KubeObject;

  it('our own status write wakes nothing', () => {
    assert.equal(modelDeploymentChanged(with_({}, { status: { phase: 'x' } }), md), false);
  });

  it('a new generation, a deletion, or a promote or abort annotation wakes the model', () => {
    assert.equal(modelDeploymentChanged(with_({ generation: 2 }), md), true);
    assert.equal(modelDeploymentChanged(with_({ deletionTimestamp: '2026-12-01T00:00:00Z' }), md), true);
    assert.equal(modelDeploymentChanged(with_({ annotations: { 'serving.modelship.dev/promote': 'true' } }), md), true);
    assert.equal(modelDeploymentChanged(with_({ annotations: { 'serving.modelship.dev/abort': 'true' } }), md), true);
    assert.equal(modelDeploymentChanged(with_({ annotations: { team: 'a' } }), md), false);
  });

  it('a new object under the same name wakes the model, even at the same generation', () => {
    assert.equal(modelDeploymentChanged(with_({ uid: 'u2' }), md), true);
  });
});
