// Watches the ready endpoints behind a Service: every version of its EndpointSlices the API server
// serves, not samples, so a moment with no ready pod cannot slip between two looks.
import { spawn } from 'node:child_process';
import { bin, cluster } from './harness.ts';

interface Slice {
  metadata: { name: string };
  endpoints?: { conditions?: { ready?: boolean } }[] | null;
}

export interface EndpointWatch {
  /** Ready endpoints after each version, in order (from the first version on). */
  readonly readyCounts: number[];
  /** The fewest ready endpoints seen once the watch had seen any. */
  min(): number;
  stop(): void;
}

export function watchReadyEndpoints(namespace: string, service: string): EndpointWatch {
  const child = spawn(
    bin('kubectl'),
    ['--kubeconfig', cluster().kubeconfig, 'get', 'endpointslices', '-n', namespace, '-l', `kubernetes.io/service-name=${service}`, '--watch', '--output-watch-events', '-o', 'json'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const slices = new Map<string, number>();
  const readyCounts: number[] = [];
  let buffer = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  // kubectl writes one pretty-printed JSON document per event: split them by brace depth.
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const ch of chunk) {
      buffer += ch;
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === '\\') escaped = true;
        else if (ch === '"') inString = false;
        continue;
      }
      if (ch === '"') inString = true;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        const event = JSON.parse(buffer) as { type: string; object: Slice };
        buffer = '';
        const ready = (event.object.endpoints ?? []).filter((e) => e.conditions?.ready === true).length;
        if (event.type === 'DELETED') slices.delete(event.object.metadata.name);
        else slices.set(event.object.metadata.name, ready);
        readyCounts.push([...slices.values()].reduce((a, b) => a + b, 0));
      }
    }
  });
  return {
    readyCounts,
    min() {
      const first = readyCounts.findIndex((n) => n > 0);
      return first < 0 ? 0 : Math.min(...readyCounts.slice(first));
    },
    stop: () => child.kill(),
  };
}
