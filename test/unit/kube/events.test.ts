import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { correlationKey, EventRecorder, MAX_MESSAGE_LENGTH, newEvent, SpamFilter, type CoreEvent } from '../../../operator/src/kube/events.ts';
import { Reason } from '../../../operator/src/status/reasons.ts';
import { apiError, FakeKube } from '../support/fake-kube.ts';

const md = {
  apiVersion: 'serving.modelship.dev/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { namespace: 'risk', name: 'fraud', uid: 'u-1', resourceVersion: '7' },
};
const other = { ...md, metadata: { ...md.metadata, name: 'other', uid: 'u-2' } };

function setup(): { kube: FakeKube; rec: EventRecorder; clock: { t: number } } {
  const kube = new FakeKube();
  const clock = { t: Date.UTC(2025, 0, 1, 12, 0, 0) };
  const rec = new EventRecorder({ client: kube, now: () => clock.t, host: 'node-1' });
  return { kube, rec, clock };
}

function events(kube: FakeKube): CoreEvent[] {
  return [...kube.objects.values()].filter((o) => o.kind === 'Event') as unknown as CoreEvent[];
}

describe('EventRecorder', () => {
  it('creates a core/v1 Event about the object', async () => {
    const { kube, rec } = setup();
    rec.normal(md, Reason.Created, 'Created Deployment fraud');
    await rec.flush();
    const [ev] = events(kube);
    assert.ok(ev);
    assert.equal(ev.metadata.namespace, 'risk');
    assert.match(ev.metadata.name, /^fraud\.[0-9a-f]+$/);
    assert.deepEqual(ev.involvedObject, { apiVersion: md.apiVersion, kind: md.kind, namespace: 'risk', name: 'fraud', uid: 'u-1', resourceVersion: '7' });
    assert.equal(ev.type, 'Normal');
    assert.equal(ev.reason, 'Created');
    assert.equal(ev.count, 1);
    assert.equal(ev.firstTimestamp, '2025-01-01T12:00:00Z');
    assert.deepEqual(ev.source, { component: 'modelship-operator', host: 'node-1' });
  });

  it('aggregates identical events into one Event with a count instead of flooding', async () => {
    const { kube, rec, clock } = setup();
    for (let i = 0; i < 5; i++) {
      rec.warning(md, Reason.ApplyFailed, 'Failed to apply Deployment fraud: forbidden');
      clock.t += 60_000;
    }
    await rec.flush();
    const evs = events(kube);
    assert.equal(evs.length, 1);
    assert.equal(evs[0]?.count, 5);
    assert.equal(evs[0]?.firstTimestamp, '2025-01-01T12:00:00Z');
    assert.equal(evs[0]?.lastTimestamp, '2025-01-01T12:04:00Z');
    assert.deepEqual(kube.writes().map((c) => c.verb), ['create', 'mergePatch', 'mergePatch', 'mergePatch', 'mergePatch']);
  });

  it('keeps different reasons, messages, types and objects apart', async () => {
    const { kube, rec } = setup();
    rec.normal(md, Reason.Created, 'Created Deployment fraud');
    rec.normal(md, Reason.Created, 'Created Service fraud');
    rec.normal(md, Reason.Updated, 'Created Service fraud');
    rec.warning(md, Reason.Updated, 'Created Service fraud');
    rec.normal(other, Reason.Created, 'Created Deployment fraud');
    await rec.flush();
    assert.equal(events(kube).length, 5);
    assert.equal(new Set(events(kube).map((e) => e.metadata.name)).size, 5, 'names do not collide within a millisecond');
  });

  it('starts a new Event when the aggregated one has expired', async () => {
    const { kube, rec } = setup();
    rec.normal(md, Reason.Updated, 'Updated Deployment fraud');
    await rec.flush();
    kube.failNext('mergePatch', apiError(404, 'NotFound'));
    rec.normal(md, Reason.Updated, 'Updated Deployment fraud');
    await rec.flush();
    assert.deepEqual(kube.writes().map((c) => c.verb), ['create', 'mergePatch', 'create']);
  });

  it('never throws into the caller when the API server refuses', async () => {
    const { kube, rec } = setup();
    kube.failNext('create', apiError(403, 'Forbidden'));
    assert.doesNotThrow(() => rec.warning(md, Reason.InvalidSpec, 'spec.model.uri: must start with s3://, gs://, https:// or pvc://'));
    await rec.flush();
    assert.equal(events(kube).length, 0);
    rec.warning(md, Reason.InvalidSpec, 'spec.model.uri: must start with s3://, gs://, https:// or pvc://');
    await rec.flush();
    assert.equal(events(kube).length, 1, 'a later identical event is created once the server accepts it');
  });

  it('drops events beyond the per-object burst of 25', async () => {
    const { kube, rec } = setup();
    for (let i = 0; i < 30; i++) rec.normal(md, Reason.Updated, `Updated Deployment fraud (${i})`);
    rec.normal(other, Reason.Updated, 'Updated Deployment other');
    await rec.flush();
    assert.equal(events(kube).filter((e) => e.involvedObject.name === 'fraud').length, 25);
    assert.equal(events(kube).filter((e) => e.involvedObject.name === 'other').length, 1, 'other objects are unaffected');
    assert.equal(rec.droppedCount(), 5);
  });

  it('has named reasons in CamelCase', () => {
    for (const [k, v] of Object.entries(Reason)) {
      assert.equal(k, v);
      assert.match(v, /^[A-Z][A-Za-z]+$/);
    }
  });
});

describe('SpamFilter', () => {
  it('refills one token every 5 minutes', () => {
    const f = new SpamFilter(2, 300_000);
    assert.equal(f.allow('o', 0), true);
    assert.equal(f.allow('o', 0), true);
    assert.equal(f.allow('o', 0), false);
    assert.equal(f.allow('o', 299_999), false);
    assert.equal(f.allow('o', 300_000), true);
  });
});

describe('newEvent and correlationKey', () => {
  it('truncates long messages and correlates on the truncated text', () => {
    const long = 'x'.repeat(5000);
    const ev = newEvent(md, 'Warning', Reason.ApplyFailed, long, 0, 0);
    assert.equal(ev.message.length, MAX_MESSAGE_LENGTH);
    assert.equal(correlationKey(md, 'Warning', 'ApplyFailed', long), correlationKey(md, 'Warning', 'ApplyFailed', `${long}yyy`));
  });
});
