// `modelship explain`'s diagnosis of one ModelDeployment from its status, and its table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Condition, ModelDeployment } from '../../../operator/src/api/types.ts';
import { age, explainRow, formatTable } from '../../../operator/src/cli/explain.ts';
import { WHAT_TO_DO } from '../../../operator/src/status/reasons.ts';

const NOW = new Date('2026-11-27T12:00:00Z');

function md(generation: number, status?: ModelDeployment['status']): ModelDeployment {
  return {
    apiVersion: 'serving.modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'iris', namespace: 'team-a', generation, creationTimestamp: new Date('2026-11-27T11:55:00Z') },
    spec: { model: { uri: 's3://acme-models/iris/v1', format: 'sklearn' } },
    ...(status ? { status } : {}),
  };
}

function cond(type: string, status: Condition['status'], reason: string, message: string): Condition {
  return { type, status, reason, message, lastTransitionTime: '2026-11-27T11:56:00Z', observedGeneration: 2 };
}

describe('explainRow', () => {
  it('says no operator has reported on a ModelDeployment without a status', () => {
    const row = explainRow(md(1), NOW);
    assert.deepEqual([row.ready, row.reason, row.replicas, row.age], ['Unknown', 'NotObserved', '0/0', '5m']);
    assert.match(row.whatToDo ?? '', /operator runs/);
  });

  it('says the status is behind the spec when observedGeneration lags', () => {
    const row = explainRow(md(3, { observedGeneration: 2, conditions: [cond('Ready', 'True', 'Ready', 'Serving')] }), NOW);
    assert.equal(row.reason, 'StatusBehind');
    assert.equal(row.ready, 'Unknown');
    assert.equal(row.message, 'The status describes generation 2, the spec is at generation 3: the operator has not yet acted on the latest change (before it: Ready).');
  });

  it('repeats a Ready model as the status says it, with nothing to do', () => {
    const row = explainRow(md(2, { observedGeneration: 2, readyReplicas: 2, replicas: 2, conditions: [cond('Ready', 'True', 'Ready', 'Serving s3://acme-models/iris/v1 on 2 of 2 replicas')] }), NOW);
    assert.deepEqual([row.ready, row.reason, row.replicas, row.stalled, row.whatToDo], ['True', 'Ready', '2/2', false, undefined]);
  });

  it('gives the reason, the message on one line, stalled, and what to do', () => {
    const row = explainRow(
      md(2, { observedGeneration: 2, conditions: [cond('Ready', 'False', 'CrashLoop', 'Pod iris-1: container server\nexited 137 (OOMKilled)'), cond('Stalled', 'True', 'CrashLoop', 'x')] }),
      NOW,
    );
    assert.deepEqual([row.ready, row.reason, row.stalled], ['False', 'CrashLoop', true]);
    assert.equal(row.message, 'Pod iris-1: container server exited 137 (OOMKilled)');
    assert.equal(row.whatToDo, WHAT_TO_DO.CrashLoop);
  });
});

describe('formatTable', () => {
  it('pads the columns like kubectl get and puts the message last, with the namespace for -A', () => {
    const rows = [
      explainRow(md(2, { observedGeneration: 2, readyReplicas: 1, replicas: 1, conditions: [cond('Ready', 'True', 'Ready', 'Serving')] }), NOW),
      { ...explainRow(md(2, { observedGeneration: 2, conditions: [cond('Ready', 'False', 'InvalidSpec', 'The spec is invalid: spec.replicas: must be at least 0.'), cond('Stalled', 'True', 'InvalidSpec', 'x')] }), NOW), name: 'broken-model' },
    ];
    assert.equal(
      formatTable(rows, true),
      'NAMESPACE  NAME          READY  REASON                 REPLICAS  AGE  MESSAGE\n' +
        'team-a     iris          True   Ready                  1/1       5m   Serving\n' +
        'team-a     broken-model  False  InvalidSpec (stalled)  0/0       5m   The spec is invalid: spec.replicas: must be at least 0. What to do: Fix the fields named.\n',
    );
    assert.match(formatTable(rows, false), /^NAME  /);
  });

  it('writes ages as kubectl does', () => {
    assert.deepEqual(
      ['2026-11-27T11:59:15Z', '2026-11-27T11:00:00Z', '2026-11-26T12:00:00Z', '2026-11-20T12:00:00Z', undefined].map((t) => age(t, NOW)),
      ['45s', '60m', '24h', '7d', '<unknown>'],
    );
  });
});
