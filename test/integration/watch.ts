// Every version of some objects that the API server serves, through `kubectl get --watch`, each
// with the moment it arrived: proofs judged from watches see every change, not a sample of them.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { bin, cluster, eventually } from './harness.ts';

export interface WatchEvent<T> {
  /** Epoch milliseconds when the event arrived. */
  at: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
}

export interface Watch<T> {
  readonly events: readonly WatchEvent<T>[];
  /** Resolves with the first event (from now on, or already seen) that satisfies `fn`. */
  until(what: string, fn: (e: WatchEvent<T>) => boolean, timeoutMs?: number): Promise<WatchEvent<T>>;
  /** Whether kubectl is still watching: a watch that ended proves nothing about what came after. */
  alive(): boolean;
  stop(): void;
}

/** Watches `kind` in `namespace` (all of them, or `-l selector` / a name given in `args`). */
export async function watchObjects<T>(kind: string, namespace: string, args: string[] = []): Promise<Watch<T>> {
  const child = spawn(
    bin('kubectl'),
    ['--kubeconfig', cluster().kubeconfig, 'get', kind, '-n', namespace, ...args, '--watch', '--output-watch-events', '-o', 'jsonpath={@}{"\\n"}'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: WatchEvent<T>[] = [];
  let stderr = '';
  let ended = false;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('exit', () => (ended = true));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.trim() === '') return;
    const e = JSON.parse(line) as { type: WatchEvent<T>['type']; object: T };
    events.push({ at: Date.now(), type: e.type, object: e.object });
  });
  const w: Watch<T> = {
    events,
    alive: () => !ended,
    stop: () => child.kill(),
    until: (what, fn, timeoutMs = 60_000) =>
      eventually(what, () => {
        if (ended) throw new Error(`the watch of ${kind} in ${namespace} ended: ${stderr.trim()}`);
        return events.find(fn);
      }, timeoutMs, 100),
  };
  // The list at the start arrives as ADDED events: wait for it, so later events are changes.
  await eventually(`the watch of ${kind} in ${namespace} to start`, () => {
    if (ended) throw new Error(`kubectl get --watch ${kind} failed: ${stderr.trim()}`);
    return events.length > 0;
  }, 30_000, 100).catch((err: Error) => {
    child.kill();
    throw err;
  });
  return w;
}
