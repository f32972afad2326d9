// Upgrading the operator as docs/operations.md says it behaves: a new operator whose rendering did
// not change writes nothing and restarts no model pod; one whose rendering of a runtime changed (a
// release that bumps a pinned runtime image, here through --runtime-image, which has the same
// effect on the pod template) rolls exactly the models on that runtime, and no other.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { auditOffset, eventually, getJson, installCrd, kubectl, type AuditMark } from './harness.ts';
import { md, operatorWrites, waitReady } from './controller-suite.ts';
import { OPERATOR_USER, startOperator, type OperatorProcess } from './operator.ts';

const NEW_MLSERVER = 'docker.io/seldonio/mlserver:1.6.2';

interface Snapshot {
  generation: number;
  image: string;
  pods: string[];
}

function snapshot(ns: string, name: string): Snapshot {
  const d = getJson<{ metadata: { generation: number }; spec: { template: { spec: { containers: { name: string; image: string }[] } } } }>(['get', 'deployment', name, '-n', ns]);
  const pods = getJson<{ items: { metadata: { uid: string; deletionTimestamp?: string } }[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);
  return {
    generation: d.metadata.generation,
    image: d.spec.template.spec.containers.find((c) => c.name === 'server')?.image ?? '',
    pods: pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.uid).sort(),
  };
}

/** Waits until the operator has reconciled every ModelDeployment once since it started. */
async function reconciledAll(op: OperatorProcess, count: number): Promise<void> {
  await eventually(`${op.name} to reconcile ${count} ModelDeployments`, async () => ((await op.metric('controller_runtime_reconcile_total', { controller: 'modeldeployment', result: 'success' })) ?? 0) >= count, 60_000, 250);
}

/** The operator's writes to the children and status of one ModelDeployment since `mark`. */
function writesTo(ns: string, name: string, mark: AuditMark): string[] {
  return operatorWrites(OPERATOR_USER, mark, (e) => e.objectRef?.namespace === ns && e.objectRef.name === name && e.objectRef.resource !== 'events', auditOffset()).map(
    (e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
  );
}

describe('upgrading the operator', () => {
  const ns = `upgrade-${randomBytes(3).toString('hex')}`;
  const models = [
    md('sklearn-model', { replicas: 2 }),
    md('onnx-model', { model: { uri: 's3://models/onnx-model/v1', format: 'onnx' }, replicas: 2 }),
  ];
  let op: OperatorProcess | undefined;
  const start = async (name: string, args: string[] = []): Promise<OperatorProcess> => {
    op = await startOperator({ name, args: ['--leader-elect=false', ...args] });
    return op;
  };

  before(async () => {
    installCrd();
    kubectl(['create', 'namespace', ns]);
    await start('operator-before-upgrade');
    kubectl(['apply', '-n', ns, '-f', '-'], { input: models.map((m) => stringify(m)).join('---\n') });
    for (const m of models) await waitReady(ns, (m['metadata'] as { name: string }).name);
    await op?.stop();
  });
  after(async () => {
    await op?.stop();
    kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  });

  it('with the same rendering: the new operator writes nothing and no model pod restarts', async () => {
    const before = [snapshot(ns, 'sklearn-model'), snapshot(ns, 'onnx-model')];
    const mark = auditOffset();
    const upgraded = await start('operator-same-rendering');
    await reconciledAll(upgraded, models.length);
    await sleep(3000); // room for a late write to show up
    assert.deepEqual([...writesTo(ns, 'sklearn-model', mark), ...writesTo(ns, 'onnx-model', mark)], [], 'no write to any child or status');
    assert.deepEqual([snapshot(ns, 'sklearn-model'), snapshot(ns, 'onnx-model')], before, 'same generations, images and pods');
    await upgraded.stop();
  });

  it('with a new image for one runtime: only the models on that runtime roll, and turn Ready on it', async () => {
    const sklearn = snapshot(ns, 'sklearn-model');
    const onnx = snapshot(ns, 'onnx-model');
    const mark = auditOffset();
    const upgraded = await start('operator-new-mlserver', [`--runtime-image=mlserver=${NEW_MLSERVER}`]);
    await eventually('the sklearn model to serve on the new image', () => {
      const m = getJson<{ metadata: { generation: number }; status?: { observedGeneration?: number; model?: { image?: string }; conditions?: { type: string; status: string }[] } }>(['get', 'mdep', 'sklearn-model', '-n', ns]);
      return m.status?.model?.image === NEW_MLSERVER && m.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    }, 90_000);
    const rolled = snapshot(ns, 'sklearn-model');
    assert.equal(rolled.generation, sklearn.generation + 1, 'one new Deployment generation');
    assert.equal(rolled.image, NEW_MLSERVER);
    assert.equal(rolled.pods.filter((uid) => sklearn.pods.includes(uid)).length, 0, 'every pod of the sklearn model was replaced');
    await reconciledAll(upgraded, models.length);
    assert.deepEqual(snapshot(ns, 'onnx-model'), onnx, 'the Triton model is untouched: same generation, image and pods');
    assert.deepEqual(writesTo(ns, 'onnx-model', mark), [], 'and the operator wrote nothing of it');
    assert.ok(writesTo(ns, 'sklearn-model', mark).includes('patch deployments'), 'the sklearn Deployment was applied');
    await upgraded.stop();
  });
});
