// Runs the real operator (node operator/src/main.ts) as a separate process against the test
// cluster, as its own identity, on free loopback ports; tests stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeconfigFor, stateDir } from '../cluster/cluster.ts';
import { freePort } from '../cluster/ports.ts';
import { repoRoot } from './harness.ts';

/** The user name the operator authenticates as in the tests (a client certificate). */
export const OPERATOR_USER = 'modelship-operator';

export interface OperatorProcess {
  name: string;
  child: ChildProcess;
  healthPort: number;
  metricsPort: number;
  logFile: string;
  /** The last lines the operator printed (JSON log lines). */
  output(): string[];
  metrics(): Promise<string>;
  /** Value of one sample, e.g. metric('leader_election_master_status'). */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  ready(): Promise<boolean>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface OperatorOptions {
  name?: string;
  /** Defaults to a client certificate for OPERATOR_USER in system:masters. */
  kubeconfig?: string;
  args?: string[];
  env?: Record<string, string>;
  waitReady?: boolean;
  /** The script to run; default operator/src/main.ts (dist/main.js runs what the image runs). */
  entry?: string;
  /** Flags for node itself (--cpu-prof, --max-old-space-size=...). */
  nodeArgs?: string[];
  /** A cgroup (v1) directory to run the operator in, like a container's memory limit. */
  cgroup?: string;
}

/** The default identity: its own user, so the audit log can tell its writes apart. */
export function operatorKubeconfig(): string {
  return kubeconfigFor(OPERATOR_USER, ['system:masters']);
}

export async function startOperator(opts: OperatorOptions = {}): Promise<OperatorProcess> {
  const name = opts.name ?? 'operator';
  const [healthPort, metricsPort] = [await freePort(), await freePort()];
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  // In a cgroup: a shell puts itself in it, then becomes node (exec), so the limit is the operator's.
  const [command, prefix] = opts.cgroup ? ['/bin/sh', ['-c', `echo $$ > '${opts.cgroup}/cgroup.procs' && exec "$0" "$@"`, process.execPath]] : [process.execPath, []];
  const child = spawn(
    command,
    [
      ...prefix,
      ...(opts.nodeArgs ?? []),
      opts.entry ?? join(repoRoot, 'operator/src/main.ts'),
      `--health-probe-bind-address=127.0.0.1:${healthPort}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      // The operator refuses a repeated flag, so the default namespace only when args name none.
      ...((opts.args ?? []).some((a) => a.startsWith('--leader-election-namespace')) ? [] : ['--leader-election-namespace=default']),
      ...(opts.args ?? []),
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: opts.kubeconfig ?? operatorKubeconfig(), MODELSHIP_LOG_LEVEL: 'debug', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  // Whole lines: a pipe's chunks end anywhere, so each stream keeps its unfinished last line until
  // the rest of it comes.
  const keep = () => {
    let partial = '';
    return (d: Buffer) => {
      log.write(d);
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      if (lines.length > 500) lines.splice(0, lines.length - 500);
    };
  };
  child.stdout?.on('data', keep());
  child.stderr?.on('data', keep());
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const op: OperatorProcess = {
    name,
    child,
    healthPort,
    metricsPort,
    logFile,
    output: () => [...lines],
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    metric: async (metricName, labels = {}) => {
      const text = await op.metrics();
      for (const line of text.split('\n')) {
        if (!line.startsWith(metricName)) continue;
        const m = /^([a-zA-Z_:]+)(\{([^}]*)\})? (\S+)$/.exec(line);
        if (!m || m[1] !== metricName) continue;
        const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
      }
      return undefined;
    },
    ready: async () => {
      try {
        return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    stop: async (signal = 'SIGTERM', timeoutMs = 40_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      // An unref'd timer: once the operator has exited, a pending timeout must not keep the test file's process alive.
      const code = await Promise.race([exited, sleep(timeoutMs, undefined, { ref: false }).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`${name} did not exit within ${timeoutMs / 1000} s of ${signal}`);
      }
      log.end();
      return code;
    },
  };

  if (opts.waitReady !== false) {
    const deadline = Date.now() + 60_000;
    while (!(await op.ready())) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${lines.slice(-20).join('\n')}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${name} was not ready within 60 s:\n${lines.slice(-20).join('\n')}`);
      }
      await sleep(50);
    }
  }
  return op;
}
