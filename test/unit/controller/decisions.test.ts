// The reconcile's pure decisions, table by table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { classifyError, needsReplicasHandover, ownershipOf } from '../../../operator/src/controller/decisions.ts';
import { KubeApiError, NotLeaderError } from '../../../operator/src/kube/errors.ts';

function apiError(code: number, reason = '', details?: unknown): KubeApiError {
  return new KubeApiError('PATCH', '/x', code, { kind: 'Status', code, reason, message: `${code} ${reason}`, ...(details ? { details } : {}) }, '');
}

describe('classifyError', () => {
  const abort = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
  const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
  const terminating = new KubeApiError('PATCH', '/x', 403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'unable to create new content in namespace x because it is being terminated', details: { causes: [{ type: 'NamespaceTerminating' }] } }, '');
  const cases: Array<[string, unknown, string]> = [
    ['500 is transient', apiError(500, 'InternalError'), 'transient'],
    ['503 is transient', apiError(503, 'ServiceUnavailable'), 'transient'],
    ['504 is transient', apiError(504, 'Timeout'), 'transient'],
    ['408 is transient', apiError(408), 'transient'],
    ['409 (a race) is transient', apiError(409, 'Conflict'), 'transient'],
    ['429 without Retry-After is transient', apiError(429, 'TooManyRequests'), 'transient'],
    ['429 with Retry-After waits that long', apiError(429, 'TooManyRequests', { retryAfterSeconds: 3 }), 'transient:3000'],
    ['a connection error is transient', new TypeError('fetch failed'), 'transient'],
    ['a request timeout is transient', timeout, 'transient'],
    ['422 is invalid', apiError(422, 'Invalid'), 'invalid'],
    ['400 is invalid', apiError(400, 'BadRequest'), 'invalid'],
    ['404 (the namespace is gone) is invalid', apiError(404, 'NotFound'), 'invalid'],
    ['403 is forbidden', apiError(403, 'Forbidden'), 'forbidden'],
    ['a namespace being deleted', terminating, 'terminating'],
    ['the lease is lost', new NotLeaderError(), 'aborted'],
    ['our own signal aborted it', abort, 'aborted'],
  ];
  for (const [name, err, want] of cases) {
    it(name, () => {
      const c = classifyError(err);
      assert.equal(c.kind === 'transient' && c.retryAfterMs !== undefined ? `transient:${c.retryAfterMs}` : c.kind, want);
    });
  }
});

describe('ownershipOf', () => {
  const obj = (meta: Record<string, unknown>): KubernetesObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'iris', namespace: 'ml', ...meta } }) as KubernetesObject;
  const ours = { apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', name: 'iris', uid: 'u1', controller: true };
  const cases: Array<[string, KubernetesObject | undefined, string, RegExp?]> = [
    ['nothing of that name', undefined, 'absent'],
    ['ours: our uid as controller', obj({ ownerReferences: [ours] }), 'ours'],
    ['made by hand, unlabelled', obj({ managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', time: '2026-01-01T00:00:00Z' }] }), 'foreign', /made by kubectl-client-side-apply/],
    ['made by hand; a controller writes its status (earlier, same second)', obj({ managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', time: '2026-01-01T00:00:00Z' }, { manager: 'kubectl-create', operation: 'Update', time: '2026-01-01T00:00:01Z' }] }), 'foreign', /made by kubectl-create/],
    ['our labels, but no ownerReference', obj({ labels: { 'app.kubernetes.io/managed-by': 'modelship' } }), 'foreign', /not controlled by any ModelDeployment/],
    ['an earlier ModelDeployment of the same name', obj({ ownerReferences: [{ ...ours, uid: 'u0' }] }), 'foreign', /controlled by ModelDeployment iris/],
    ['another controller', obj({ ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'u9', controller: true }] }), 'foreign', /controlled by Deployment x/],
    ['our uid, but not as controller', obj({ ownerReferences: [{ ...ours, controller: false }] }), 'foreign'],
  ];
  for (const [name, o, want, message] of cases) {
    it(name, () => {
      const got = ownershipOf(o, 'u1', 'Service');
      assert.equal(got.kind, want);
      if (message && got.kind === 'foreign') {
        assert.match(got.message, message);
        assert.match(got.message, /^Service ml\/iris already exists/);
      }
    });
  }
});

describe('needsReplicasHandover', () => {
  const cases: Array<[string, Parameters<typeof needsReplicasHandover>[0], boolean]> = [
    ['fixed → autoscaling, before the HPA exists', { desiredReplicas: undefined, observedReplicas: 3, hpaExists: false, willApply: true }, true],
    ['under an HPA already', { desiredReplicas: undefined, observedReplicas: 3, hpaExists: true, willApply: true }, false],
    ['fixed replicas', { desiredReplicas: 2, observedReplicas: 3, hpaExists: false, willApply: true }, false],
    ['nothing to apply', { desiredReplicas: undefined, observedReplicas: 3, hpaExists: false, willApply: false }, false],
    ['a new Deployment', { desiredReplicas: undefined, observedReplicas: undefined, hpaExists: false, willApply: true }, false],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(needsReplicasHandover(input), want));
});
