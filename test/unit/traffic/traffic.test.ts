import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { duration, loadAt, profiles } from '../../traffic/profiles.ts';
import { jittered, seededRandom, usageAnnotations, usagePerPod } from '../../traffic/usage.ts';

describe('traffic profiles', () => {
  const step = profiles.stepUp({ idle: 100, factor: 4, idleSeconds: 10, highSeconds: 30, afterSeconds: 20 });
  const table: { name: string; profile: ReturnType<typeof profiles.idle>; t: number; rps: number; phase: string; done?: boolean }[] = [
    { name: 'step: idle at the start', profile: step, t: 0, rps: 100, phase: 'idle' },
    { name: 'step: up at once when the idle phase ends', profile: step, t: 10, rps: 400, phase: 'step up' },
    { name: 'step: still up just before the end of the high phase', profile: step, t: 39.9, rps: 400, phase: 'step up' },
    { name: 'step: back to idle', profile: step, t: 40, rps: 100, phase: 'back to idle' },
    { name: 'step: idle stays after the end', profile: step, t: 1000, rps: 100, phase: 'back to idle', done: true },
    { name: 'ramp: halfway up the ramp', profile: profiles.ramp({ idle: 100, peak: 500, idleSeconds: 5, rampSeconds: 20, peakSeconds: 10, afterSeconds: 5 }), t: 15, rps: 300, phase: 'ramp' },
    { name: 'ramp: at the peak', profile: profiles.ramp({ idle: 100, peak: 500, idleSeconds: 5, rampSeconds: 20, peakSeconds: 10, afterSeconds: 5 }), t: 25, rps: 500, phase: 'peak' },
    { name: 'spike: the burst', profile: profiles.spike({ idle: 50, peak: 800, idleSeconds: 5, spikeSeconds: 3, afterSeconds: 5 }), t: 6, rps: 800, phase: 'spike' },
    { name: 'spike: over', profile: profiles.spike({ idle: 50, peak: 800, idleSeconds: 5, spikeSeconds: 3, afterSeconds: 5 }), t: 8, rps: 50, phase: 'back to idle' },
    { name: 'idle', profile: profiles.idle(20, 60), t: 30, rps: 20, phase: 'idle' },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(loadAt(c.profile, c.t), { rps: c.rps, phase: c.phase, done: c.done ?? false }));
  }
  it('lasts as long as its phases', () => assert.equal(duration(step), 60));
});

describe('usage per pod', () => {
  const cost = { cpuMillis: 1, memoryMiB: 0.5 };
  const idle = { cpuMillis: 1, memoryMiB: 10 };
  const table: { name: string; rps: number; ready: number; want: { cpuMillis: number; memoryMiB: number } | undefined }[] = [
    { name: 'the load is shared by the ready pods', rps: 400, ready: 2, want: { cpuMillis: 201, memoryMiB: 110 } },
    { name: 'more replicas lower the usage of each', rps: 400, ready: 8, want: { cpuMillis: 51, memoryMiB: 35 } },
    { name: 'no load: what an idle server uses', rps: 0, ready: 3, want: { cpuMillis: 1, memoryMiB: 10 } },
    { name: 'no ready pod: nobody takes the load', rps: 400, ready: 0, want: undefined },
  ];
  for (const c of table) {
    it(c.name, () => assert.deepEqual(usagePerPod(c.rps, c.ready, cost, idle), c.want));
  }

  it('writes whole millicores and MiB, at least 1, in the annotations kwok reads', () => {
    assert.deepEqual(usageAnnotations({ cpuMillis: 66.7, memoryMiB: 0.2 }), { 'kwok.x-k8s.io/usage-cpu': '67m', 'kwok.x-k8s.io/usage-memory': '1Mi' });
  });

  it('jitters within the bound, the same way for the same seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const u = jittered({ cpuMillis: 100, memoryMiB: 100 }, 0.05, a);
      assert.ok(u.cpuMillis >= 95 && u.cpuMillis <= 105 && u.memoryMiB >= 95 && u.memoryMiB <= 105, JSON.stringify(u));
      assert.deepEqual(jittered({ cpuMillis: 100, memoryMiB: 100 }, 0.05, b), u);
    }
    assert.deepEqual(jittered({ cpuMillis: 100, memoryMiB: 100 }, 0, a), { cpuMillis: 100, memoryMiB: 100 });
  });
});
