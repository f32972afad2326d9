// An allocation profile of the operator (`npm run bench -- --alloc-profile DIR`): preloaded with
// node --import, it runs V8's sampling heap profiler keeping the samples of objects the garbage
// collector has freed, so the profile says what was allocated, and where, over the process's life
// (node --heap-prof keeps only what is still alive when it is written). The profile is written
// when the process exits, as DIR/alloc-PID.heapprofile (Chrome DevTools' Memory tab opens it);
// summarizeAllocations() gives the totals the benchmark prints.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

export const ALLOC_PROFILE_ENV = 'MODELSHIP_ALLOC_PROFILE_DIR';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** The file the process with this pid writes. */
export function allocProfileFile(dir: string, pid: number): string {
  return join(dir, `alloc-${pid}.heapprofile`);
}

/** Total sampled bytes, and the places that allocated most, by their own allocations. */
export function summarizeAllocations(file: string, top = 10): { totalBytes: number; top: Array<{ where: string; bytes: number }> } {
  const root = (JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }).head;
  const self = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    const cf = n.callFrame;
    // Built-ins (String.prototype.repeat, Object.keys, JSON.parse) have no script: their own name.
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${name} ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : name;
    total += n.selfSize;
    self.set(where, (self.get(where) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(root);
  const most = [...self].filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1]);
  return { totalBytes: total, top: most.slice(0, top).map(([where, bytes]) => ({ where, bytes })) };
}

const dir = process.env[ALLOC_PROFILE_ENV];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  // One sample per 32 KiB allocated on average (V8's default is 512 KiB).
  session.post('HeapProfiler.startSampling', { samplingInterval: 32_768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  process.once('exit', () => {
    // The inspector answers a session of the same thread synchronously, so this runs before exit.
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (!err) writeFileSync(allocProfileFile(dir, process.pid), JSON.stringify(result.profile));
    });
  });
}
