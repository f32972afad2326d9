// Pure: scripted traffic profiles, as the load (requests per second) at each moment. A profile is a
// list of phases; in each the load moves linearly from `from` to `to`. The simulator plays them;
// the tests and the demo can also set a constant load when they want to wait for the cluster
// rather than for a clock.

/** One stretch of a profile: the load goes from `from` to `to` requests per second over `seconds`. */
export interface Phase {
  label: string;
  seconds: number;
  from: number;
  to: number;
}

export type Profile = readonly Phase[];

/** A constant load. */
export function hold(label: string, rps: number, seconds: number): Phase {
  return { label, seconds, from: rps, to: rps };
}

/** A load that changes linearly. */
export function ramp(label: string, from: number, to: number, seconds: number): Phase {
  return { label, seconds, from, to };
}

export interface StepOptions {
  idle: number;
  /** The high load is factor × idle. */
  factor: number;
  idleSeconds: number;
  highSeconds: number;
  /** How long the profile stays back at idle at the end. */
  afterSeconds: number;
}

/** The scripted profiles: step up, ramp, spike, and back to idle. */
export const profiles = {
  /** Idle, a step to factor × idle, held, then back to idle. */
  stepUp: (o: StepOptions): Profile => [hold('idle', o.idle, o.idleSeconds), hold('step up', o.idle * o.factor, o.highSeconds), hold('back to idle', o.idle, o.afterSeconds)],
  /** Idle, a linear climb to the peak, held, then back to idle at once. */
  ramp: (o: { idle: number; peak: number; idleSeconds: number; rampSeconds: number; peakSeconds: number; afterSeconds: number }): Profile => [
    hold('idle', o.idle, o.idleSeconds),
    ramp('ramp', o.idle, o.peak, o.rampSeconds),
    hold('peak', o.peak, o.peakSeconds),
    hold('back to idle', o.idle, o.afterSeconds),
  ],
  /** Idle, a short burst at the peak, then back to idle. */
  spike: (o: { idle: number; peak: number; idleSeconds: number; spikeSeconds: number; afterSeconds: number }): Profile => [
    hold('idle', o.idle, o.idleSeconds),
    hold('spike', o.peak, o.spikeSeconds),
    hold('back to idle', o.idle, o.afterSeconds),
  ],
  /** Only the idle load. */
  idle: (rps: number, seconds: number): Profile => [hold('idle', rps, seconds)],
};

/** How long the profile lasts, in seconds. */
export function duration(profile: Profile): number {
  return profile.reduce((sum, p) => sum + p.seconds, 0);
}

/** The load `t` seconds into the profile; after its end, the last phase's final load. */
export function loadAt(profile: Profile, t: number): { rps: number; phase: string; done: boolean } {
  let start = 0;
  for (const p of profile) {
    if (t < start + p.seconds) {
      const f = p.seconds > 0 ? (t - Math.max(0, start)) / p.seconds : 1;
      return { rps: p.from + (p.to - p.from) * Math.max(0, f), phase: p.label, done: false };
    }
    start += p.seconds;
  }
  const last = profile.at(-1);
  return { rps: last?.to ?? 0, phase: last?.label ?? 'idle', done: true };
}
