// A status that never lies during a change, says why a model is not serving, and an operator that
// never takes what is not its own: each promise produced for real on the test cluster (cordoned
// nodes, a quota, missing objects, pods failing through kwok stages) and judged with kstatus itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { applyMd, cond, getMd, md, operatorWrites, waitReady, type MdObj } from './controller-suite.ts';
import { auditEvents, auditOffset, bin, cluster, eventually, getJson, installCrd, kubectl, useNamespace } from './harness.ts';
import { kstatusNow, kstatusOf, watchKstatus } from './kstatus.ts';
import { OPERATOR_USER, startOperator, type OperatorProcess } from './operator.ts';
import { watchObjects } from './watch.ts';

const FAULT = 'faults.test.modelship.dev';

interface Cause {
  name: string;
  spec: Record<string, unknown>;
  setup?: (ns: string) => Promise<void> | void;
  reason: string;
  stalled: boolean;
  message: RegExp;
}

const CAUSES: Cause[] = [
  {
    name: 'a ResourceQuota refuses the pods',
    spec: { replicas: 1 },
    setup: async (ns) => {
      kubectl(['create', 'quota', 'models', '-n', ns, '--hard=pods=0']);
      await eventually('the quota to be computed', () => kubectl(['get', 'quota', 'models', '-n', ns, '-o', 'jsonpath={.status.hard.pods}']) === '0');
    },
    reason: 'PodsRefused',
    stalled: true,
    message: /The API server refuses to create pods for ReplicaSet .*exceeded quota: models/,
  },
  { name: 'a missing PriorityClass', spec: { replicas: 1, scheduling: { priorityClassName: 'no-such-class' } }, reason: 'PodsRefused', stalled: true, message: /no PriorityClass with name no-such-class was found/ },
  { name: 'a missing ServiceAccount', spec: { replicas: 1, pod: { serviceAccountName: 'no-such-sa' } }, reason: 'PodsRefused', stalled: true, message: /serviceaccount "no-such-sa" not found/ },
  { name: 'a missing claim', spec: { replicas: 1, model: { uri: 'pvc://no-such-claim/iris', format: 'sklearn' } }, reason: 'Unschedulable', stalled: false, message: /cannot be scheduled: .*no-such-claim/ },
  { name: 'more GPUs than any node has', spec: { replicas: 1, resources: { requests: { cpu: '100m' }, limits: { 'nvidia.com/gpu': 100 } } }, reason: 'Unschedulable', stalled: false, message: /cannot be scheduled: 0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu/ },
  { name: 'a crash loop, OOMKilled', spec: { replicas: 1, pod: { annotations: { [`${FAULT}/kind`]: 'crash-loop', [`${FAULT}/reason`]: 'OOMKilled' } } }, reason: 'CrashLoop', stalled: true, message: /container server keeps crashing \(last exit: OOMKilled, exit code 137\).*raise resources\.limits\.memory/ },
  { name: 'an image that cannot be pulled', spec: { replicas: 1, pod: { annotations: { [`${FAULT}/kind`]: 'image-pull' } } }, reason: 'ImagePullFailed', stalled: false, message: /container server cannot pull its image .*ImagePullBackOff/ },
  { name: 'the model fetcher failing', spec: { replicas: 1, pod: { annotations: { [`${FAULT}/kind`]: 'fetcher-fail', [`${FAULT}/message`]: 'NoSuchKey: s3://models/iris/v1 does not exist' } } }, reason: 'ModelFetchFailed', stalled: true, message: /the model fetcher failed \(Error, exit code 1\): NoSuchKey: s3:\/\/models\/iris\/v1 does not exist/ },
  { name: 'readiness never reached', spec: { replicas: 1, pod: { annotations: { [`${FAULT}/kind`]: 'not-ready' } } }, reason: 'NotReady', stalled: false, message: /is running but not ready: the readiness probe of server has not passed/ },
  { name: 'the progress deadline passing', spec: { replicas: 1, rollout: { progressDeadlineSeconds: 5 }, pod: { annotations: { [`${FAULT}/kind`]: 'not-ready' } } }, reason: 'ProgressDeadlineExceeded', stalled: true, message: /made no progress within 5 s\. Pod .* is running but not ready/ },
];

/** Every version of a Deployment's spec.replicas the API server serves, through a watch. */
function watchReplicas(ns: string, name: string): { seen: number[]; stop(): void } {
  const child = spawn(bin('kubectl'), ['--kubeconfig', cluster().kubeconfig, 'get', 'deployment', name, '-n', ns, '--watch', '-o', 'jsonpath={.spec.replicas}{"\\n"}'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const seen: number[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.trim() !== '') seen.push(Number(l));
  });
  return { seen, stop: () => child.kill() };
}

function nodes(): string[] {
  return kubectl(['get', 'nodes', '-o', 'name']).trim().split('\n');
}

describe('the status tells the truth', () => {
  let op: OperatorProcess;
  before(async () => {
    installCrd();
    op = await startOperator({ name: 'status', args: ['--leader-elect=false'] });
  });
  after(async () => {
    assert.equal(await op.stop('SIGTERM'), 0);
  });

  it('is never Current for a new pod template until its pods run (kstatus on every version, nodes cordoned)', async (t) => {
    const ns = useNamespace(t, 'st');
    applyMd(ns, md('truth', { replicas: 2 }));
    await waitReady(ns, 'truth');
    const watch = await watchKstatus(ns, 'truth');
    t.after(() => watch.stop());
    const all = nodes();
    kubectl(['cordon', ...all]);
    t.after(() => kubectl(['uncordon', ...all]));
    applyMd(ns, md('truth', { replicas: 2, resources: { requests: { cpu: '200m', memory: '128Mi' } } }));
    const generation = getMd(ns, 'truth').metadata.generation;
    await watch.until('the new generation observed', (v) => v.generation === generation && v.observedGeneration === generation);
    const unschedulable = await watch.until('the new pods reported unschedulable', (v) => v.generation === generation && /node\(s\) were unschedulable/.test(v.message), 30_000);
    assert.equal(unschedulable.status, 'InProgress');
    await sleep(3000);
    const during = watch.verdicts.filter((v) => v.generation === generation);
    assert.ok(during.length >= 2, `judged ${during.length} versions of generation ${generation}`);
    assert.deepEqual(during.filter((v) => v.status === 'Current'), [], 'no version is Current while the new pods cannot run');
    kubectl(['uncordon', ...all]);
    const current = await watch.until('Current', (v) => v.generation === generation && v.status === 'Current');
    // When kstatus first says Current, the Deployment has rolled out fully: the status said so only then.
    const d = getJson<{ status: { replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number } }>(['get', 'deployment', 'truth', '-n', ns]);
    assert.deepEqual([d.status.replicas, d.status.updatedReplicas, d.status.readyReplicas, d.status.availableReplicas], [2, 2, 2, 2]);
    t.diagnostic(`kstatus judged ${watch.verdicts.length} versions; ${during.length} of generation ${generation}, none Current before the pods ran; Current at resourceVersion ${current.resourceVersion}`);
  });

  it('names the cause when pods cannot be created, scheduled, pulled, started or made ready', async (t) => {
    const results = await Promise.all(
      CAUSES.map(async (c) => {
        const ns = useNamespace(t, 'why');
        await c.setup?.(ns);
        const started = Date.now();
        applyMd(ns, md('iris', c.spec));
        let last: MdObj | undefined;
        const m = await eventually(`${c.name}: Ready reason ${c.reason}`, () => {
          last = getMd(ns, 'iris');
          return cond(last, 'Ready')?.reason === c.reason && last.status?.observedGeneration === last.metadata.generation ? last : undefined;
        }, 90_000).catch((err: Error) => {
          throw new Error(`${err.message}; last Ready: ${JSON.stringify(cond(last as MdObj, 'Ready'))}`);
        });
        return { c, ns, m, seconds: (Date.now() - started) / 1000 };
      }),
    );
    for (const { c, ns, m, seconds } of results) {
      const ready = cond(m, 'Ready');
      assert.match(ready?.message ?? '', c.message, c.name);
      assert.equal(cond(m, 'Stalled')?.status, c.stalled ? 'True' : 'False', `${c.name}: Stalled`);
      assert.equal(cond(m, 'Reconciling')?.status, c.stalled ? 'False' : 'True', `${c.name}: Reconciling`);
      const verdict = kstatusNow(ns, 'iris');
      assert.equal(verdict.status, c.stalled ? 'Failed' : 'InProgress', `${c.name}: kstatus`);
      const row = kubectl(['get', 'mdep', 'iris', '-n', ns, '--no-headers']);
      assert.match(row, new RegExp(`\\b${c.reason}\\b`), `${c.name}: kubectl get mdep shows the reason`);
      const events = await eventually(`${c.name}: a Warning event`, () => {
        const out = kubectl(['get', 'events', '-n', ns, '--field-selector', `involvedObject.kind=ModelDeployment,reason=${c.reason}`, '-o', 'jsonpath={.items[*].type}']);
        return out.includes('Warning') ? out : undefined;
      }, 30_000);
      assert.ok(events);
      t.diagnostic(`${c.name}: ${c.reason} (${c.stalled ? 'Stalled, kstatus Failed' : 'Reconciling, kstatus InProgress'}) after ${seconds.toFixed(1)} s: ${ready?.message}`);
    }
  });

  it('leaves a hand-made Service and Deployment of its name untouched, is Stalled with ChildConflict, and converges once they go', async (t) => {
    const ns = useNamespace(t, 'own');
    kubectl(['create', 'service', 'clusterip', 'taken', '-n', ns, '--tcp=8080:9090']);
    kubectl(['create', 'deployment', 'taken', '-n', ns, '--image=registry.example.com/their-app:1', '--replicas=1']);
    const svcBefore = getJson<{ metadata: { resourceVersion: string }; spec: unknown }>(['get', 'service', 'taken', '-n', ns]);
    const depBefore = getJson<{ metadata: { resourceVersion: string }; spec: { template: unknown } }>(['get', 'deployment', 'taken', '-n', ns]);
    const mark = auditOffset();
    applyMd(ns, md('taken', { replicas: 1 }));
    const stalled = await eventually('ChildConflict', () => {
      const m = getMd(ns, 'taken');
      return cond(m, 'Ready')?.reason === 'ChildConflict' ? m : undefined;
    });
    assert.equal(cond(stalled, 'Stalled')?.status, 'True');
    assert.match(cond(stalled, 'Stalled')?.message ?? '', new RegExp(`Deployment ${ns}/taken already exists and is made by kubectl-create`));
    assert.match(cond(stalled, 'Stalled')?.message ?? '', new RegExp(`Service ${ns}/taken already exists and is made by kubectl-create`));
    assert.equal(kstatusNow(ns, 'taken').status, 'Failed');
    await sleep(3000);
    const writes = operatorWrites(OPERATOR_USER, mark, (e) => e.objectRef?.namespace === ns && e.objectRef.resource !== 'events' && e.objectRef.resource !== 'modeldeployments', auditOffset());
    assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'no write to any child while one is taken');
    assert.equal(getJson<{ metadata: { resourceVersion: string } }>(['get', 'service', 'taken', '-n', ns]).metadata.resourceVersion, svcBefore.metadata.resourceVersion, 'the Service is untouched');
    assert.equal(getJson<{ metadata: { resourceVersion: string } }>(['get', 'deployment', 'taken', '-n', ns]).metadata.resourceVersion, depBefore.metadata.resourceVersion, 'the Deployment is untouched');
    assert.match(kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=taken,reason=ChildConflict', '-o', 'jsonpath={.items[*].message}']), /already exists/);

    // Deleting the ModelDeployment deletes nothing of theirs.
    kubectl(['delete', 'mdep', 'taken', '-n', ns, '--wait=true']);
    await sleep(3000);
    assert.equal(getJson<{ metadata: { resourceVersion: string } }>(['get', 'service', 'taken', '-n', ns]).metadata.resourceVersion, svcBefore.metadata.resourceVersion);
    assert.equal(getJson<{ metadata: { resourceVersion: string } }>(['get', 'deployment', 'taken', '-n', ns]).metadata.resourceVersion, depBefore.metadata.resourceVersion);

    // Once theirs are gone, the ModelDeployment converges at once: no periodic resync needed.
    applyMd(ns, md('taken', { replicas: 1 }));
    await eventually('ChildConflict again', () => cond(getMd(ns, 'taken'), 'Ready')?.reason === 'ChildConflict');
    kubectl(['delete', 'service,deployment', 'taken', '-n', ns, '--wait=true']);
    const gone = Date.now();
    await waitReady(ns, 'taken', 30_000);
    t.diagnostic(`converged ${((Date.now() - gone) / 1000).toFixed(1)} s after the conflicting objects were deleted`);
  });

  it('creates the children of a new model without reading each from the API server first (its names cache says they are free)', async (t) => {
    const ns = useNamespace(t, 'free');
    const mark = auditOffset();
    applyMd(ns, md('fresh', { autoscaling: { minReplicas: 2, maxReplicas: 3, targetCPUUtilizationPercentage: 70 } }));
    await waitReady(ns, 'fresh', 60_000);
    const children = new Set(['deployments', 'services', 'horizontalpodautoscalers', 'poddisruptionbudgets']);
    const mine = auditEvents(mark, auditOffset()).filter((e) => e.user.username === OPERATOR_USER && e.objectRef?.namespace === ns && children.has(e.objectRef.resource ?? ''));
    assert.deepEqual([...new Set(mine.filter((e) => e.verb === 'patch').map((e) => e.objectRef?.resource))].sort(), [...children].sort(), 'the window holds the operator\'s applies of every child');
    assert.deepEqual(mine.filter((e) => e.verb === 'get').map((e) => e.requestURI), [], 'no child was read by name before it was created');
  });

  it('keeps the Deployment at its size while the HPA takes over from fixed replicas, and sets the size at once on the way back', async (t) => {
    const ns = useNamespace(t, 'size');
    applyMd(ns, md('sized', { replicas: 3 }));
    await waitReady(ns, 'sized');
    const w = watchReplicas(ns, 'sized');
    t.after(() => w.stop());
    await eventually('the watch to start', () => w.seen.length > 0);
    applyMd(ns, md('sized', { autoscaling: { minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 70 } }));
    await eventually('the HPA to exist', () => kubectl(['get', 'hpa', '-n', ns, '-o', 'name']).trim() !== '');
    await waitReady(ns, 'sized');
    await sleep(5000);
    assert.ok(w.seen.length >= 1);
    assert.deepEqual(w.seen.filter((r) => r < 3), [], `spec.replicas of every version: ${w.seen.join(', ')}`);
    const mark = auditOffset();
    applyMd(ns, md('sized', { replicas: 2 }));
    await eventually('the size set to 2', () => getJson<{ spec: { replicas: number } }>(['get', 'deployment', 'sized', '-n', ns]).spec.replicas === 2);
    await waitReady(ns, 'sized');
    const ours = operatorWrites(OPERATOR_USER, mark, (e) => e.objectRef?.resource === 'deployments' && e.objectRef.name === 'sized', auditOffset());
    assert.equal(ours.length, 1, 'one apply sets the size');
    t.diagnostic(`spec.replicas through the handover: ${w.seen.join(' → ')}`);
  });

  it('repairs a keyed list edited by hand, then makes zero writes (audit log)', async (t) => {
    const ns = useNamespace(t, 'keyed');
    applyMd(ns, md('keyed', { replicas: 1 }));
    await waitReady(ns, 'keyed');
    // Another manager takes over the port item (its key changes), so apply alone would add a second "http".
    kubectl(['patch', 'service', 'keyed', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/ports/0/port', value: 8999 }])]);
    await eventually('the port restored', () => {
      const ports = getJson<{ spec: { ports: { port: number; name: string }[] } }>(['get', 'service', 'keyed', '-n', ns]).spec.ports;
      return ports[0]?.port === 80 && ports[0].name === 'http' && !ports.some((p) => p.port === 8999);
    });
    await sleep(2000);
    const mark = auditOffset();
    // Nudge a reconcile of it: an update to a child it watches.
    kubectl(['annotate', 'service', 'keyed', '-n', ns, 'nudge=1']);
    await sleep(10_000);
    const writes = operatorWrites(OPERATOR_USER, mark, (e) => e.objectRef?.namespace === ns, auditOffset());
    assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'no write loop after the repair');
  });

  it('reports a child the API server refuses for good as ApplyRefused, Stalled, without retrying', async (t) => {
    const ns = useNamespace(t, 'refused');
    // A rule of this cluster that neither the CRD nor the operator can know: an admission policy
    // (reason Invalid: 422) refuses the model's Deployment.
    const policy = `modelship-test-${ns}`;
    kubectl(['apply', '-f', '-'], { input: stringify({
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: policy },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
        validations: [{ expression: "object.metadata.name != 'refused'", message: 'this cluster refuses Deployments named refused', reason: 'Invalid' }],
      },
    }) + '---\n' + stringify({
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy },
      spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } },
    }) });
    t.after(() => kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found']));
    await eventually('the admission policy to be in force', () => {
      try {
        kubectl(['create', 'deployment', 'refused', '-n', ns, '--image=registry.example.com/x:1', '--dry-run=server']);
        return false;
      } catch (err) {
        return /this cluster refuses/.test(String(err));
      }
    });
    const mark = auditOffset();
    applyMd(ns, md('refused', { replicas: 1 }));
    const m = await eventually('ApplyRefused', () => {
      const x = getMd(ns, 'refused');
      return cond(x, 'Ready')?.reason === 'ApplyRefused' ? x : undefined;
    });
    assert.equal(cond(m, 'Stalled')?.status, 'True');
    assert.match(cond(m, 'Stalled')?.message ?? '', /Applying Deployment refused failed: .*this cluster refuses Deployments named refused/);
    assert.equal(kstatusNow(ns, 'refused').status, 'Failed');
    await sleep(10_000);
    const attempts = operatorWrites(OPERATOR_USER, mark, (e) => e.objectRef?.resource === 'deployments' && e.objectRef.namespace === ns, auditOffset());
    assert.equal(attempts.length, 1, `one attempt, no retry loop: ${attempts.map((e) => `${e.verb} ${e.responseStatus?.code}`).join(', ')}`);
    assert.equal(attempts[0]?.responseStatus?.code, 422);
  });

  it('refuses a model URI that carries credentials: the API server with the CRD rule, the operator with the same words', () => {
    const ns = 'default';
    assert.throws(
      () => kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], { input: stringify(md('leaky', { model: { uri: 'https://user:secret@models.example.com/m.bin', format: 'sklearn' } })) }),
      /must not carry credentials/,
    );
  });
});

describe('the status keeps up under a backlog', () => {
  before(() => installCrd());

  it('says a model is Ready once its Deployment is, while later models still wait for their first pass', async (t) => {
    const ns = useNamespace(t, 'lag');
    const count = 100;
    // The models exist before the operator starts, so it queues all of them at once, in list
    // order, and works through them one at a time: a backlog like a mass create's. In FIFO order
    // the first model's Ready would wait behind every other model's first pass.
    const models = Array.from({ length: count }, (_, i) => ({ ...md(`m-${String(i).padStart(3, '0')}`, { replicas: 1 }), metadata: { name: `m-${String(i).padStart(3, '0')}`, namespace: ns } }));
    kubectl(['apply', '-n', ns, '-f', '-'], { input: stringify({ apiVersion: 'v1', kind: 'List', items: models }) });
    const watch = await watchObjects<MdObj>('mdep', ns);
    t.after(() => watch.stop());
    const lagOp = await startOperator({ name: 'status-lag', args: ['--leader-elect=false', '--concurrency=1', `--watch-namespaces=${ns}`] });
    t.after(async () => {
      await lagOp.stop('SIGTERM');
    });
    const firstReady = await watch.until('a model Ready', (e) => cond(e.object, 'Ready')?.status === 'True', 120_000);
    const before = watch.events.slice(0, watch.events.indexOf(firstReady));
    // Until its first pass a model's status is the CRD's default, observedGeneration 0.
    const passed = new Set(before.filter((e) => (e.object.status?.observedGeneration ?? 0) > 0).map((e) => e.object.metadata.name));
    t.diagnostic(`${firstReady.object.metadata.name} Ready after the first pass of ${passed.size} of ${count} models`);
    assert.ok(passed.size < count, `the first model turned Ready only after all ${count} first passes`);
    // The models still waiting read as in progress, not as done: kstatus (Flux's judge) says
    // Current of an object with no status at all.
    const waiting = watch.events.filter((e) => e.type === 'ADDED' && !passed.has(e.object.metadata.name)).map((e) => e.object);
    assert.deepEqual(waiting.map((m) => m.status), waiting.map(() => ({ observedGeneration: 0 })));
    const verdicts = kstatusOf(waiting);
    assert.equal(verdicts.length, count - passed.size);
    assert.deepEqual([...new Set(verdicts.map((v) => v.status))], ['InProgress'], `kstatus on the models before their first pass: ${JSON.stringify(verdicts.find((v) => v.status !== 'InProgress'))}`);
    await watch.until('every model Ready', () => watch.events.filter((e) => cond(e.object, 'Ready')?.status === 'True').map((e) => e.object.metadata.name).filter((n, i, a) => a.indexOf(n) === i).length === count, 180_000);
    assert.ok(watch.alive(), 'the watch saw every version');
  });
});
