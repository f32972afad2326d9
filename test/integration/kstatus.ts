// Judges ModelDeployments as Flux does: with kstatus itself (sigs.k8s.io/cli-utils, built into
// .cluster/bin/kstatus from test/cluster/kstatus), on every version the API server serves during a
// change (a watch), not on samples.
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { bin, cluster } from './harness.ts';

export interface Verdict {
  resourceVersion: string;
  generation: number;
  observedGeneration: number;
  /** InProgress, Failed, Current, Terminating, NotFound or Unknown. */
  status: string;
  message: string;
  error?: string;
}

/** kstatus's verdicts on the given versions of objects (as a watch served them), in order. */
export function kstatusOf(objects: readonly unknown[]): Verdict[] {
  if (objects.length === 0) return [];
  const out = execFileSync(bin('kstatus'), { input: objects.map((o) => JSON.stringify(o)).join('\n'), encoding: 'utf8' });
  return out.trim().split('\n').map((line) => JSON.parse(line) as Verdict);
}

/** kstatus's verdict on one object as it is now. */
export function kstatusNow(namespace: string, name: string, kind = 'mdep'): Verdict {
  const json = execFileSync(bin('kubectl'), ['--kubeconfig', cluster().kubeconfig, 'get', kind, name, '-n', namespace, '-o', 'json'], { encoding: 'utf8' });
  return kstatusOf([JSON.parse(json)])[0]!;
}

export interface KstatusWatch {
  /** Every verdict so far, one per version served, in order. */
  readonly verdicts: Verdict[];
  /** Resolves with the first verdict (already seen or to come) that `pred` accepts. */
  until(what: string, pred: (v: Verdict) => boolean, timeoutMs?: number): Promise<Verdict>;
  stop(): void;
}

/** Watches one ModelDeployment and judges every version with kstatus. */
export async function watchKstatus(namespace: string, name: string): Promise<KstatusWatch> {
  const kubectl = spawn(bin('kubectl'), ['--kubeconfig', cluster().kubeconfig, 'get', 'mdep', name, '-n', namespace, '--watch', '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const judge = spawn(bin('kstatus'), [], { stdio: ['pipe', 'pipe', 'pipe'] });
  kubectl.stdout.pipe(judge.stdin);
  const verdicts: Verdict[] = [];
  let stderr = '';
  kubectl.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  judge.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: judge.stdout }).on('line', (line) => verdicts.push(JSON.parse(line) as Verdict));
  const w: KstatusWatch = {
    verdicts,
    async until(what, pred, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = verdicts.find(pred);
        if (v) return v;
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeoutMs / 1000} s waiting for kstatus to say ${what}; verdicts: ${JSON.stringify(verdicts.slice(-5))}${stderr ? `; stderr: ${stderr}` : ''}`);
        }
        await sleep(100);
      }
    },
    stop() {
      kubectl.kill();
      judge.kill();
    },
  };
  await w.until('anything (the first version)', () => true, 30_000);
  return w;
}
