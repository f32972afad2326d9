// What every integration test needs: the cluster that the global setup started, kubectl, a fresh
// namespace per test, polling, and the apiserver's audit log.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { RestClient } from '../../operator/src/kube/rest.ts';
import { createMetrics } from '../../operator/src/observability/metrics.ts';
import { readState, repoRoot, waitForCrd, type ClusterState } from '../cluster/cluster.ts';

export { repoRoot };
export const CRD_FILE = join(repoRoot, 'crds/modeldeployments.serving.modelship.dev.yaml');

/** Installs (or updates) the generated CRD and waits until it is served. */
export function installCrd(): void {
  kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=modelship-tests', '-f', CRD_FILE]);
  waitForCrd((args) => kubectl(args), 'modeldeployments.serving.modelship.dev');
}

export function cluster(): ClusterState {
  const s = readState();
  if (!s) throw new Error('the test cluster is not up: run the integration tests through `npm test`');
  return s;
}

/** The operator's REST client as the cluster admin, with metrics of its own (not the process's). */
export function adminRest(): RestClient {
  return RestClient.forKubeconfig(cluster().kubeconfig, { metrics: createMetrics(new Registry(), { defaultMetrics: false }) });
}

export function bin(name: string): string {
  return join(cluster().binDir, name);
}

/** Runs kubectl as the cluster admin; throws with kubectl's stderr on failure. */
export function kubectl(args: string[], opts: { input?: string; kubeconfig?: string } = {}): string {
  try {
    return execFileSync(bin('kubectl'), ['--kubeconfig', opts.kubeconfig ?? cluster().kubeconfig, ...args], {
      encoding: 'utf8',
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** kubectl, asynchronously (for commands that wait, such as `kubectl wait`). */
export function kubectlAsync(args: string[], opts: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin('kubectl'), ['--kubeconfig', cluster().kubeconfig, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function getJson<T = Record<string, unknown>>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

/** Creates a namespace for this test and deletes it when the test ends. */
export function useNamespace(t: TestContext, prefix = 't'): string {
  const slug = t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30).replace(/-$/, '');
  const ns = `${prefix}-${slug}-${randomBytes(3).toString('hex')}`;
  kubectl(['create', 'namespace', ns]);
  t.after(() => {
    if (!process.env.MODELSHIP_KEEP_NAMESPACES) kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  });
  return ns;
}

/**
 * A ModelDeployment whose autoscaler (if it has one) has read its first metrics: the HPA's
 * ScalingActive turns True 15-60 s after the pods are Ready, and the status records that
 * transition once (status.autoscaling). A zero-writes window starts after every model is settled.
 */
export function autoscalerSettled(m: { spec?: Record<string, unknown>; status?: { autoscaling?: { conditions?: { type: string }[] } } }): boolean {
  if (m.spec?.autoscaling === undefined) return true;
  const conditions = m.status?.autoscaling?.conditions ?? [];
  return conditions.length > 0 && !conditions.some((c) => c.type === 'ScalingActive');
}

/** Polls `fn` until it returns a value other than undefined/false, or fails with `what`. */
export async function eventually<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** One apiserver audit event (audit.k8s.io/v1, Metadata level). */
export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  impersonatedUser?: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number; message?: string; reason?: string };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** A moment in the audit log: events whose request arrived at or after it. */
export interface AuditMark {
  /** RFC 3339 with six fractional digits, as the audit log writes requestReceivedTimestamp. */
  at: string;
  ms: number;
}

function microIso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Now, as an audit mark. The API server runs on this machine: one clock. */
export function auditOffset(): AuditMark {
  const ms = Date.now();
  return { at: microIso(ms), ms };
}

const TS_KEY = '"requestReceivedTimestamp":"';

/**
 * Audit events whose request arrived in [from, to), from every audit file: the API server rotates
 * audit.log (--audit-log-maxsize, 100 MB by default) into audit-<time>.log, and a window can span a
 * rotation. With a window given, a window that holds no audit event at all (from anyone) throws:
 * an assertion of "no writes" must never pass because nothing was read.
 */
export function auditEvents(from?: AuditMark, to?: AuditMark): AuditEvent[] {
  const log = cluster().auditLog;
  const dir = dirname(log);
  const files = readdirSync(dir)
    .filter((f) => /^audit.*\.log$/.test(f))
    .map((f) => join(dir, f))
    .filter((f) => from === undefined || statSync(f).mtimeMs >= from.ms - 1000);
  const events: AuditEvent[] = [];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      if (from !== undefined || to !== undefined) {
        const i = line.indexOf(TS_KEY);
        const ts = i < 0 ? '' : line.slice(i + TS_KEY.length, line.indexOf('"', i + TS_KEY.length));
        if (from !== undefined && ts < from.at) continue;
        if (to !== undefined && ts >= to.at) continue;
      }
      events.push(JSON.parse(line) as AuditEvent);
    }
  }
  events.sort((a, b) => (a.requestReceivedTimestamp < b.requestReceivedTimestamp ? -1 : a.requestReceivedTimestamp > b.requestReceivedTimestamp ? 1 : 0));
  if (from !== undefined && events.length === 0) {
    throw new Error(`the audit log holds no event at all since ${from.at}${to ? ` until ${to.at}` : ''}: an audit-based assertion cannot be judged (is the audit log written? was it rotated away?)`);
  }
  return events;
}
