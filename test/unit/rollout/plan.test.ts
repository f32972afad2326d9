// The rollout planner, driven through whole canaries by a small simulation of the Deployments it
// asks for (pods start after one tick, ready or failing as the scenario says), checking at every
// tick what the issue promises: the Service never selects zero ready pods, no more pods than the
// surge allows, the canary slot becomes the stable one without a restart, and rollbacks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RolloutStatus } from '../../../operator/src/api/types.ts';
import { ABORT_ANNOTATION, plan, PROMOTE_ANNOTATION, split, type Plan, type RolloutSettings, type Slot } from '../../../operator/src/rollout/plan.ts';
import type { Diagnosis } from '../../../operator/src/status/diagnose.ts';
import { routeBackends } from '../../../operator/src/controller/rollout.ts';

interface SimSlot extends Slot {
  /** Pods of this slot's current revision fail this way. */
  failing?: Diagnosis;
}

interface World {
  slots: SimSlot[];
  rollout: RolloutStatus | undefined;
  hpaTarget: string;
  now: number;
  annotations: Record<string, string>;
  events: string[];
  log: string[];
  /** Revisions whose pods fail. */
  bad: Map<string, Diagnosis>;
  /** With an HPA: the size it keeps the stable slot at. */
  hpaSize?: number;
}

const settings = (over: Partial<RolloutSettings> = {}): RolloutSettings => ({
  strategy: 'Canary',
  steps: [{ weight: 25, pauseMs: 30_000 }, { weight: 50, pauseMs: 30_000 }],
  readyTimeoutMs: 120_000,
  autoRollback: true,
  noSurge: false,
  replicas: 4,
  ...over,
});

function world(revision: string, replicas = 4): World {
  return {
    slots: [{ name: 'm', role: 'stable', revision, specReplicas: replicas, replicas, readyReplicas: replicas, rolledOut: true, deadlineExceeded: false }],
    rollout: undefined,
    hpaTarget: 'm',
    now: Date.parse('2026-11-29T12:00:00Z'),
    annotations: {},
    events: [],
    log: [],
    bad: new Map(),
  };
}

/** One reconcile: plan, then the Deployments move one step toward it (pods take one tick). */
function tick(w: World, revision: string, s: RolloutSettings, seconds = 5): Plan {
  // Pods of last tick's size are now there, ready unless their revision fails.
  for (const slot of w.slots) {
    slot.replicas = slot.specReplicas;
    const bad = slot.revision !== undefined ? w.bad.get(slot.revision) : undefined;
    slot.readyReplicas = bad ? 0 : slot.specReplicas;
    if (bad) slot.problem = bad;
    else delete slot.problem;
  }
  const p = plan({ mdName: 'm', revision, settings: s, slots: w.slots, previous: w.rollout, annotations: w.annotations, now: new Date(w.now) });
  const next: SimSlot[] = [];
  for (const sp of p.slots) {
    const have = w.slots.find((x) => x.name === sp.name);
    const specReplicas = sp.replicas ?? (w.hpaSize ?? have?.specReplicas ?? 1);
    next.push({
      name: sp.name,
      ...(sp.slot ? { slot: sp.slot } : {}),
      role: sp.role,
      revision: sp.template === 'desired' ? sp.revision : have?.revision,
      specReplicas,
      replicas: have?.replicas ?? 0,
      readyReplicas: Math.min(have?.readyReplicas ?? 0, specReplicas),
      rolledOut: true,
      deadlineExceeded: false,
    });
  }
  for (const name of p.remove) assert.ok(!p.slots.some((x) => x.name === name), `${name} is both kept and removed`);
  w.slots = next;
  w.rollout = p.rollout;
  w.hpaTarget = p.hpaTarget;
  if (p.event) w.events.push(`${p.event.reason}`);
  w.log.push(`${p.rollout?.phase ?? '-'} ${next.map((x) => `${x.name}:${x.role}:${x.readyReplicas}/${x.specReplicas}`).join(' ')}`);
  w.now += seconds * 1000;
  return p;
}

function readyTotal(w: World): number {
  return w.slots.reduce((n, s) => n + s.readyReplicas, 0);
}

function run(w: World, revision: string, s: RolloutSettings, until: (p: Plan) => boolean, max = 200, check: (w: World) => void = () => {}): Plan {
  for (let i = 0; i < max; i++) {
    const p = tick(w, revision, s);
    assert.ok(readyTotal(w) > 0 || w.slots.every((x) => x.readyReplicas === 0 && x.specReplicas === 0) === false, `zero ready pods at tick ${i}: ${w.log.at(-1)}`);
    assert.ok(readyTotal(w) > 0, `the Service selects no ready pod at tick ${i}: ${w.log.at(-1)}`);
    check(w);
    if (until(p)) return p;
  }
  throw new Error(`did not finish: ${w.log.slice(-5).join(' | ')}`);
}

describe('split: replicas for a weight', () => {
  const cases: Array<[string, number, Partial<RolloutSettings>, number, { canary: number; stable: number | undefined }]> = [
    ['4 replicas, 25%: one canary pod', 25, { replicas: 4 }, 4, { canary: 1, stable: 3 }],
    ['4 replicas, 50%', 50, { replicas: 4 }, 4, { canary: 2, stable: 2 }],
    ['4 replicas, 10%: still one canary pod', 10, { replicas: 4 }, 4, { canary: 1, stable: 3 }],
    ['4 replicas, 90%: one stable pod stays', 90, { replicas: 4 }, 4, { canary: 3, stable: 1 }],
    ['4 replicas, 100%: promotion', 100, { replicas: 4 }, 4, { canary: 4, stable: 0 }],
    ['1 replica: the canary surges one pod beside it', 25, { replicas: 1 }, 1, { canary: 1, stable: 1 }],
    ['HPA at 6, 25%: two canary pods beside (2/8)', 25, { replicas: undefined }, 6, { canary: 2, stable: undefined }],
    ['HPA at 3, 50%: as many beside', 50, { replicas: undefined }, 3, { canary: 3, stable: undefined }],
  ];
  for (const [name, weight, over, size, want] of cases) it(name, () => assert.deepEqual(split(weight, settings(over), size), want));
});

describe('plan: a canary without a mesh', () => {
  it('goes 25 → 50 → 100 with its pauses, then promotes the canary slot without a restart', () => {
    const w = world('old');
    const s = settings();
    const seen = new Set<string>();
    const last = run(w, 'new', s, (p) => p.rollout?.phase === 'Completed', 200, (x) => {
      seen.add(`${x.rollout?.phase}@${x.rollout?.weight ?? ''}`);
      // A surge is allowed, but never more than one canary step's worth of extra pods.
      assert.ok(x.slots.reduce((n, sl) => n + sl.specReplicas, 0) <= 4 + 4, x.log.at(-1));
    });
    assert.ok(seen.has('Progressing@25') && seen.has('Paused@25') && seen.has('Paused@50') && seen.has('Promoting@100'), [...seen].join(', '));
    assert.deepEqual(last.slots.map((x) => [x.name, x.role, x.revision, x.replicas]), [['m-new', 'stable', 'new', 4]], 'the canary Deployment is now the stable one, same name');
    assert.deepEqual(last.remove, ['m']);
    assert.equal(last.hpaTarget, 'm-new');
    assert.deepEqual(w.events, ['CanaryStarted', 'CanaryStep', 'CanaryStep', 'Promoting', 'Promoted']);
    // The pauses were honoured: at least 2 × 30 s of simulated time.
    assert.ok(w.log.filter((l) => l.startsWith('Paused')).length >= 12, `paused ${w.log.filter((l) => l.startsWith('Paused')).length} ticks of 5 s`);
  });

  it('shrinks the stable slot only once the canary pods are ready (surge)', () => {
    const w = world('old');
    tick(w, 'new', settings());
    assert.deepEqual(w.slots.map((x) => [x.name, x.specReplicas]), [['m', 4], ['m-new', 1]], 'first the canary pod, the stable slot untouched');
    tick(w, 'new', settings());
    assert.deepEqual(w.slots.map((x) => [x.name, x.specReplicas]), [['m', 3], ['m-new', 1]], 'then, with the canary ready, one stable pod goes');
  });

  it('with maxSurge 0 (GPUs) takes a stable pod away before adding a canary pod, never over N pods', () => {
    const w = world('old');
    const s = settings({ noSurge: true });
    run(w, 'new', s, (p) => p.rollout?.phase === 'Completed', 200, (x) => {
      const pods = x.slots.reduce((n, sl) => n + Math.max(sl.replicas, sl.specReplicas), 0);
      assert.ok(pods <= 4, `no more than 4 pods (GPUs) at once: ${x.log.at(-1)}`);
    });
  });

  it('waits for a person at a step without a pause, and goes on when promoted for that step', () => {
    const w = world('old');
    const s = settings({ steps: [{ weight: 25 }, { weight: 50 }] });
    run(w, 'new', s, (p) => p.rollout?.phase === 'Paused');
    for (let i = 0; i < 10; i++) tick(w, 'new', s);
    assert.equal(w.rollout?.phase, 'Paused', 'it waits as long as it takes');
    assert.equal(w.rollout?.reason, 'WaitingForPromotion');
    assert.match(w.rollout?.message ?? '', /serving\.modelship\.dev\/promote=new\/0/);
    w.annotations[PROMOTE_ANNOTATION] = 'new/0';
    run(w, 'new', s, () => w.rollout?.phase === 'Paused' && w.rollout.weight === 50);
    w.annotations[PROMOTE_ANNOTATION] = 'new';
    run(w, 'new', s, (p) => p.rollout?.phase === 'Completed');
  });

  it('rolls back by itself when the canary crash-loops: the stable slot first back to full size, then the canary goes', () => {
    const w = world('old');
    const s = settings();
    w.bad.set('new', { reason: 'CrashLoop', message: 'Pod m-new-x container server keeps crashing (last exit: OOMKilled, exit code 137)', stalled: false });
    const p = run(w, 'new', s, (x) => x.rollout?.phase === 'RolledBack' && x.remove.includes('m-new'));
    assert.equal(p.rollout?.reason, 'CrashLoop');
    assert.match(p.rollout?.message ?? '', /^Rolled back: .*OOMKilled/);
    assert.deepEqual(w.slots.map((x) => [x.name, x.role, x.readyReplicas]), [['m', 'stable', 4]]);
    assert.ok(w.events.includes('RolledBack'));
    // Not tried again until the spec changes.
    for (let i = 0; i < 5; i++) tick(w, 'new', s);
    assert.deepEqual(w.slots.map((x) => x.name), ['m']);
    assert.equal(w.rollout?.phase, 'RolledBack');
    // A new spec starts a new canary.
    w.bad.delete('newer');
    tick(w, 'newer', s);
    assert.deepEqual(w.slots.map((x) => x.name), ['m', 'm-newer']);
  });

  it('rolls back when the canary is not ready within readyTimeout', () => {
    const w = world('old');
    const s = settings({ readyTimeoutMs: 20_000 });
    w.bad.set('new', { reason: 'NotReady', message: 'Pod m-new-x is running but not ready', stalled: false });
    const p = run(w, 'new', s, (x) => x.rollout?.phase === 'RolledBack');
    assert.equal(p.rollout?.reason, 'ReadyTimeout');
    assert.match(p.rollout?.message ?? '', /0 of 1 canary replicas were ready after the ready timeout of 20 s\. Pod m-new-x is running but not ready/);
  });

  it('aborts when a person asks, for that revision only', () => {
    const w = world('old');
    const s = settings();
    run(w, 'new', s, (p) => p.rollout?.phase === 'Paused');
    w.annotations[ABORT_ANNOTATION] = 'other';
    tick(w, 'new', s);
    assert.equal(w.rollout?.phase, 'Paused', 'an abort of another revision is ignored');
    w.annotations[ABORT_ANNOTATION] = 'new';
    run(w, 'new', s, (p) => p.rollout?.phase === 'RolledBack' && p.remove.includes('m-new'));
    assert.equal(w.rollout?.reason, 'Aborted');
    assert.ok(w.events.includes('Aborted'));
  });

  it('starts over from the new revision when the spec changes mid-canary', () => {
    const w = world('old');
    const s = settings();
    run(w, 'v2', s, (p) => p.rollout?.phase === 'Paused');
    const p = tick(w, 'v3', s);
    assert.deepEqual(p.remove, ['m-v2']);
    assert.deepEqual(w.slots.map((x) => [x.name, x.role]), [['m', 'stable'], ['m-v3', 'canary']]);
    assert.equal(w.rollout?.step, 0);
    assert.equal(w.rollout?.revision, 'v3');
  });

  it('removes the canary when the spec goes back to the stable revision', () => {
    const w = world('old');
    const s = settings();
    run(w, 'v2', s, (p) => p.rollout?.phase === 'Paused');
    const p = tick(w, 'old', s);
    assert.deepEqual(p.remove, ['m-v2']);
    assert.equal(w.rollout?.phase, 'Completed');
    assert.equal(w.rollout?.reason, 'SpecReverted');
  });

  it('under an HPA adds canary pods beside the stable slot and never sets its size', () => {
    const w = world('old', 6);
    w.hpaSize = 6;
    const s = settings({ replicas: undefined });
    const last = run(w, 'new', s, (p) => p.rollout?.phase === 'Completed', 200, () => {
      const plannedStable = w.slots.find((x) => x.name === 'm');
      if (plannedStable) assert.equal(plannedStable.specReplicas, 6, 'the HPA keeps its slot');
    });
    assert.equal(last.hpaTarget, 'm-new', 'the HPA scales the promoted slot');
    assert.equal(last.slots[0]?.replicas, undefined, 'and owns its size from then on');
  });

  it('resumes where it was from the status alone (a restarted operator)', () => {
    const w = world('old');
    const s = settings();
    run(w, 'new', s, (p) => p.rollout?.phase === 'Paused' && p.rollout.weight === 50);
    const saved = structuredClone(w.rollout);
    const again = plan({ mdName: 'm', revision: 'new', settings: s, slots: w.slots, previous: saved, annotations: {}, now: new Date(w.now) });
    assert.equal(again.rollout?.weight, 50);
    assert.equal(again.rollout?.stepStartedAt, saved?.stepStartedAt);
    assert.equal(again.event, undefined, 'no event repeats');
  });
});

describe('plan: RollingUpdate', () => {
  it('updates the one Deployment in place, without autoRollback as before', () => {
    const w = world('old');
    const p = tick(w, 'new', settings({ strategy: 'RollingUpdate', autoRollback: false }));
    assert.deepEqual(p.slots.map((x) => [x.name, x.template, x.revision]), [['m', 'desired', 'new']]);
    assert.equal(p.rollout, undefined);
  });

  it('with autoRollback, restores the last good ReplicaSet when the new revision fails, and holds there', () => {
    const s = settings({ strategy: 'RollingUpdate' });
    const slots: Slot[] = [{ name: 'm', role: 'stable', revision: 'new', specReplicas: 4, replicas: 5, readyReplicas: 4, rolledOut: false, deadlineExceeded: false, problem: { reason: 'ImagePullFailed', message: 'Pod m-2 cannot pull', stalled: false } }];
    const previous: RolloutStatus = { strategy: 'RollingUpdate', phase: 'Progressing', revision: 'new', stableRevision: 'old', stepStartedAt: '2026-11-29T12:00:00Z' };
    const p = plan({ mdName: 'm', revision: 'new', settings: s, slots, previous, annotations: {}, now: new Date('2026-11-29T12:01:00Z'), restoreTarget: 'm-5d8f' });
    assert.deepEqual(p.restoreFrom, { deployment: 'm', replicaSet: 'm-5d8f' });
    assert.equal(p.rollout?.phase, 'RolledBack');
    assert.equal(p.slots[0]?.template, 'unchanged');
    const held = plan({ mdName: 'm', revision: 'new', settings: s, slots: [{ ...slots[0]!, revision: 'old', problem: undefined } as Slot], previous: p.rollout, annotations: {}, now: new Date('2026-11-29T12:02:00Z') });
    assert.equal(held.restoreFrom, undefined);
    assert.equal(held.slots[0]?.template, 'unchanged', 'the failed revision is not applied again');
  });
});

describe('routeBackends: HTTPRoute weights', () => {
  const slots = (canary: boolean, legacy = false): Plan => ({
    slots: [
      { name: legacy ? 'm' : 'm-a', ...(legacy ? {} : { slot: 'a' }), role: 'stable', template: 'unchanged', revision: 'a', replicas: 3 },
      ...(canary ? [{ name: 'm-b', slot: 'b', role: 'canary' as const, template: 'desired' as const, revision: 'b', replicas: 1 }] : []),
    ],
    remove: [],
    hpaTarget: 'm-a',
    ...(canary ? { rollout: { strategy: 'Canary' as const, phase: 'Paused' as const, revision: 'b', weight: 25 } } : {}),
  });
  const ready = (r: Record<string, number>) => (name: string) => r[name] ?? 0;
  const cases: Array<[string, Plan, Record<string, number>, Array<[string, number]> | undefined]> = [
    ['no canary: all to the stable slot', slots(false), { 'm-a': 3 }, [['m-a', 100]]],
    ['a canary with ready pods takes its weight', slots(true), { 'm-a': 3, 'm-b': 1 }, [['m-a', 75], ['m-b', 25]]],
    ['a canary without ready pods gets nothing', slots(true), { 'm-a': 3, 'm-b': 0 }, [['m-a', 100], ['m-b', 0]]],
    ['a stable slot without ready pods gives way to a ready canary', slots(true), { 'm-a': 0, 'm-b': 1 }, [['m-a', 0], ['m-b', 100]]],
    ['a Deployment without a Service of its own (made before trafficRouting): not routed', slots(true, true), { m: 3, 'm-b': 1 }, undefined],
  ];
  for (const [name, p, r, want] of cases) {
    it(name, () => assert.deepEqual(routeBackends(p, ready(r), 80)?.map((b) => [b.name, b.weight]), want));
  }
});
