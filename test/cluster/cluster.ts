// Starts and stops a real Kubernetes control plane on 127.0.0.1 for the tests, the benchmark and
// the demo: etcd, kube-apiserver (secure serving, RBAC, audit log, the aggregation layer),
// kube-controller-manager, kube-scheduler, kwok playing the kubelet so that pods become Running and
// Ready without containers (and report the CPU and memory their annotations say), and
// metrics-server serving metrics.k8s.io from kwok's emulated kubelet endpoints, so the
// HorizontalPodAutoscaler and `kubectl top` work. The state lives in <repo>/.cluster (ignored by git).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterDir, ensureBinaries, ensureModuleTools, targets } from './build.ts';
import { parseAllDocuments, stringify } from 'yaml';
import { clientCert, kubeconfigYaml, makePki, servingCert } from './pki.ts';
import { freePort } from './ports.ts';

export const repoRoot = join(clusterDir, '..', '..');
export const stateDir = process.env.MODELSHIP_CLUSTER_DIR ?? join(repoRoot, '.cluster');
const statePath = join(stateDir, 'state.json');
const pkiDir = join(stateDir, 'pki');
const logDir = join(stateDir, 'logs');

export const components = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'metrics-server'] as const;
export type Component = (typeof components)[number];

export interface ClusterState {
  binDir: string;
  server: string;
  kubeconfig: string;
  auditLog: string;
  ports: Record<string, number>;
  pids: Partial<Record<Component, number>>;
  /** Extra processes a test started on this cluster (startExtraApiserver), stopped with it. */
  extraPids?: number[];
  commands: Record<Component, { bin: string; args: string[] }>;
}

export const NODE_COUNT = 3;

function log(msg: string): void {
  process.stderr.write(`[cluster] ${msg}\n`);
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readState(): ClusterState | undefined {
  if (!existsSync(statePath)) return undefined;
  return JSON.parse(readFileSync(statePath, 'utf8')) as ClusterState;
}

function writeState(s: ClusterState): void {
  writeFileSync(statePath, `${JSON.stringify(s, null, 2)}\n`);
}

export function logTail(c: Component, lines = 25): string {
  const f = join(logDir, `${c}.log`);
  if (!existsSync(f)) return '(no log)';
  return readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** GET a path on the apiserver as the admin; resolves with the status code and body. */
export function apiGet(state: ClusterState, path: string, timeoutMs = 2000): Promise<{ code: number; body: string }> {
  const url = new URL(path, state.server);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'GET',
        ca: readFileSync(join(pkiDir, 'ca.crt')),
        cert: readFileSync(join(pkiDir, 'client-admin.crt')),
        key: readFileSync(join(pkiDir, 'client-admin.key')),
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function isReady(state: ClusterState): Promise<boolean> {
  try {
    const r = await apiGet(state, '/readyz');
    return r.code === 200 && r.body.trim() === 'ok';
  } catch {
    return false;
  }
}

function startProcess(state: ClusterState, c: Component): void {
  const { bin, args } = state.commands[c];
  const fd = openSync(join(logDir, `${c}.log`), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], cwd: stateDir });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`${c} did not start: see ${join(logDir, `${c}.log`)}`);
  state.pids[c] = child.pid;
  writeState(state);
}

class ComponentError extends Error {}

/** Waits for `check`, failing early with the component's log tail if its process died. */
async function waitFor(state: ClusterState, c: Component, what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(state.pids[c])) {
      throw new ComponentError(`${c} exited while waiting for ${what}. Last lines of ${join(logDir, `${c}.log`)}:\n${logTail(c)}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new ComponentError(`${c}: timed out after ${timeoutMs / 1000} s waiting for ${what}. Last lines of its log:\n${logTail(c)}`);
    }
    await sleep(250);
  }
}

function kubectl(state: ClusterState, args: string[], input?: string): string {
  return execFileSync(join(state.binDir, 'kubectl'), ['--kubeconfig', state.kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function writeComponentKubeconfig(state: ClusterState, user: string, groups: string[]): string {
  const path = join(pkiDir, `${user.replace(/[^a-zA-Z0-9-]/g, '_')}.kubeconfig`);
  writeFileSync(path, kubeconfigYaml(state.server, join(pkiDir, 'ca.crt'), clientCert(pkiDir, user, groups), user));
  return path;
}

/**
 * Waits until a CRD is Established, through `kubectl` (args in, stdout out). Not `kubectl wait
 * --for=condition=Established`: on a CRD created a moment before, whose status has no conditions
 * yet, it fails at once (".status.conditions accessor error: <nil> is of the type <nil>") instead
 * of waiting; a benchmark run on a fresh cluster stopped there.
 */
export function waitForCrd(kubectl: (args: string[]) => string, name: string, timeoutMs = 60_000): void {
  const deadline = Date.now() + timeoutMs;
  // Read as JSON: a jsonpath filter on the conditions fails the same way while they are null.
  const established = (): string | undefined => {
    const crd = JSON.parse(kubectl(['get', `crd/${name}`, '-o', 'json'])) as { status?: { conditions?: Array<{ type?: string; status?: string }> | null } };
    return crd.status?.conditions?.find((c) => c.type === 'Established')?.status;
  };
  let last: string | undefined;
  while ((last = established()) !== 'True') {
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms (Established: ${last ?? 'no condition yet'})`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

/** A kubeconfig for any identity (used by tests to run the operator as its own user). */
export function kubeconfigFor(user: string, groups: string[] = []): string {
  const state = readState();
  if (!state) throw new Error('the test cluster is not up');
  return writeComponentKubeconfig(state, user, groups);
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
# One entry per request, when the response is complete, with who did what to which object.
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`;

function nodeManifest(i: number): string {
  const zone = `zone-${String.fromCharCode(97 + (i % 3))}`;
  return `apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    # kwok serves every node's kubelet resource metrics on one server, one path per node.
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-${i}/metrics/resource
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-${i}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: ${zone}
    node.kubernetes.io/instance-type: kwok-gpu-large
status:
  allocatable: {cpu: "1000", memory: 4Ti, pods: "2000", nvidia.com/gpu: "8", ephemeral-storage: 10Ti}
  capacity: {cpu: "1000", memory: 4Ti, pods: "2000", nvidia.com/gpu: "8", ephemeral-storage: 10Ti}
`;
}

/**
 * kwok's configuration: the stages and metrics from its module, and ours that make pods fail on
 * purpose (kwok-faults.yaml). kwok's fast pod-ready stage is told to leave those pods alone: a pod
 * our stage keeps Pending (an image that cannot be pulled) would otherwise match it next.
 */
function kwokConfigFile(binDir: string): string {
  const path = join(stateDir, 'kwok.yaml');
  const docs = parseAllDocuments(readFileSync(join(binDir, 'kwok-stages.yaml'), 'utf8')).map((d) => d.toJS() as KwokDoc);
  for (const d of docs) {
    if (d.kind === 'Stage' && d.metadata?.name === 'pod-ready') {
      d.spec?.selector?.matchExpressions?.push({ key: `.metadata.annotations["${FAULT_ANNOTATION}"]`, operator: 'DoesNotExist' });
    }
  }
  const ours = readFileSync(join(clusterDir, 'kwok-faults.yaml'), 'utf8').trim();
  writeFileSync(path, `${docs.map((d) => stringify(d, { blockQuote: 'literal', lineWidth: 0 })).join('---\n')}---\n${ours}\n`);
  return path;
}

/** The identity of the aggregation layer's front proxy (kube-apiserver → metrics-server). */
const FRONT_PROXY_USER = 'front-proxy-client';

/** How often the HPA controller syncs each HPA (the default is 15 s). */
export const HPA_SYNC_PERIOD_SECONDS = 5;

/** How often metrics-server scrapes kwok (its floor is 10 s). */
export const METRIC_RESOLUTION_SECONDS = 10;

/** metrics.k8s.io, served by metrics-server through the aggregation layer. */
function metricsApiService(caFile: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec:
  # No kube-proxy here: the API server dials the ExternalName (as kwokctl does), and checks the
  # certificate for metrics-server.kube-system.svc.
  type: ExternalName
  externalName: 127.0.0.1
  ports: [{name: https, port: ${port}, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: metrics-server, namespace: kube-system, port: ${port}}
  caBundle: ${readFileSync(caFile).toString('base64')}
  groupPriorityMinimum: 100
  versionPriority: 100
`;
}

/** The pod annotation that selects a fault stage of kwok-faults.yaml. */
export const FAULT_ANNOTATION = 'faults.test.modelship.dev/kind';

interface KwokDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: { selector?: { matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } };
}

async function planState(binDir: string, tools: Record<string, string>): Promise<ClusterState> {
  const [etcdClient, etcdPeer, freeApiserver, kcm, scheduler, kwok, metricsServer] = (await Promise.all(Array.from({ length: 7 }, freePort))) as [number, number, number, number, number, number, number];
  // A fixed apiserver port, when asked for (the port-taken test uses it).
  const apiserver = Number(process.env.MODELSHIP_APISERVER_PORT) || freeApiserver;
  const server = `https://127.0.0.1:${apiserver}`;
  const bin = (n: string) => join(binDir, n);
  const pki = (f: string) => join(pkiDir, f);
  const state: ClusterState = {
    binDir,
    server,
    kubeconfig: join(stateDir, 'kubeconfig'),
    auditLog: join(stateDir, 'audit.log'),
    ports: { etcdClient, etcdPeer, apiserver, kcm, scheduler, kwok, metricsServer },
    pids: {},
    commands: {} as ClusterState['commands'],
  };
  writeFileSync(join(stateDir, 'audit-policy.yaml'), auditPolicy);
  writeFileSync(state.kubeconfig, kubeconfigYaml(server, pki('ca.crt'), clientCert(pkiDir, 'admin', ['system:masters']), 'admin'));
  const kcmConfig = writeComponentKubeconfig(state, 'system:kube-controller-manager', []);
  const schedConfig = writeComponentKubeconfig(state, 'system:kube-scheduler', []);
  const kwokConfig = writeComponentKubeconfig(state, 'kwok', ['system:masters']);
  // A test cluster: metrics-server gets the masters group (as kwokctl gives it the admin's
  // certificate) rather than the RBAC of its manifests, which bind a ServiceAccount.
  const metricsConfig = writeComponentKubeconfig(state, 'metrics-server', ['system:masters']);
  // The aggregation layer: the API server proxies metrics.k8s.io to metrics-server as this client,
  // and metrics-server trusts the user it names only from a certificate with this name.
  const frontProxy = clientCert(pkiDir, FRONT_PROXY_USER);
  // The name the API server checks on metrics-server's certificate is its Service's (APIService).
  const metricsServing = servingCert(pkiDir, 'metrics-server', 'DNS:metrics-server.kube-system.svc,IP:127.0.0.1');
  // kwok's kubelet endpoint, as metrics-server reaches it: the nodes' InternalIP (--node-ip).
  const kubeletServing = servingCert(pkiDir, 'kwok-kubelet', 'IP:127.0.0.1,DNS:localhost');
  state.commands = {
    etcd: {
      bin: bin('etcd'),
      args: [
        '--name=default', `--data-dir=${join(stateDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true', '--quota-backend-bytes=8589934592', '--log-level=warn',
      ],
    },
    'kube-apiserver': {
      bin: bin('kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiserver}`,
        `--tls-cert-file=${pki('apiserver.crt')}`, `--tls-private-key-file=${pki('apiserver.key')}`,
        `--client-ca-file=${pki('ca.crt')}`,
        `--service-account-issuer=${server}`, `--service-account-key-file=${pki('sa.pub')}`,
        `--service-account-signing-key-file=${pki('sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/12', '--authorization-mode=Node,RBAC', '--allow-privileged=true',
        '--endpoint-reconciler-type=none',
        // /debug/pprof only for the benchmark's --apiserver-profile (MODELSHIP_APISERVER_PROFILING=1 at cluster start).
        `--profiling=${process.env.MODELSHIP_APISERVER_PROFILING === '1'}`,
        `--audit-policy-file=${join(stateDir, 'audit-policy.yaml')}`, `--audit-log-path=${state.auditLog}`,
        '--audit-log-mode=blocking', '--audit-log-format=json',
        '--max-requests-inflight=1000', '--max-mutating-requests-inflight=500',
        // On top of the default plugins: setting blockOwnerDeletion needs update on the owner's
        // finalizers (as OpenShift enforces), so the chart's RBAC is proven with it.
        '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
        `--requestheader-client-ca-file=${pki('ca.crt')}`, `--requestheader-allowed-names=${FRONT_PROXY_USER}`,
        '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${frontProxy.cert}`, `--proxy-client-key-file=${frontProxy.key}`,
      ],
    },
    'kube-controller-manager': {
      bin: bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${kcmConfig}`, `--authentication-kubeconfig=${kcmConfig}`, `--authorization-kubeconfig=${kcmConfig}`,
        '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${kcm}`, '--controllers=*',
        `--service-account-private-key-file=${pki('sa.key')}`, `--root-ca-file=${pki('ca.crt')}`,
        '--use-service-account-credentials=true',
        `--cluster-signing-cert-file=${pki('ca.crt')}`, `--cluster-signing-key-file=${pki('ca.key')}`,
        `--horizontal-pod-autoscaler-sync-period=${HPA_SYNC_PERIOD_SECONDS}s`, '--kube-api-qps=200', '--kube-api-burst=400',
        '--concurrent-deployment-syncs=10', '--concurrent-replicaset-syncs=10', '--concurrent-gc-syncs=40',
      ],
    },
    'kube-scheduler': {
      bin: bin('kube-scheduler'),
      args: [
        `--kubeconfig=${schedConfig}`, `--authentication-kubeconfig=${schedConfig}`, `--authorization-kubeconfig=${schedConfig}`,
        '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${scheduler}`,
        '--kube-api-qps=200', '--kube-api-burst=400',
      ],
    },
    kwok: {
      bin: bin('kwok'),
      args: [
        `--kubeconfig=${kwokConfig}`, '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake', '--cidr=10.244.0.0/16',
        '--node-ip=127.0.0.1', '--node-lease-duration-seconds=40', `--server-address=127.0.0.1:${kwok}`,
        `--tls-cert-file=${kubeletServing.cert}`, `--tls-private-key-file=${kubeletServing.key}`,
        `--config=${kwokConfigFile(binDir)}`,
      ],
    },
    'metrics-server': {
      bin: tools['metrics-server'] ?? bin('metrics-server'),
      args: [
        `--kubeconfig=${metricsConfig}`, `--authentication-kubeconfig=${metricsConfig}`, `--authorization-kubeconfig=${metricsConfig}`,
        '--bind-address=127.0.0.1', `--secure-port=${metricsServer}`,
        `--tls-cert-file=${metricsServing.cert}`, `--tls-private-key-file=${metricsServing.key}`,
        // Every node's kubelet is kwok's one server; its certificate is from the test CA.
        '--kubelet-preferred-address-types=InternalIP', `--kubelet-port=${kwok}`, `--kubelet-certificate-authority=${pki('ca.crt')}`,
        // The shortest resolution metrics-server accepts: a usage change reaches the HPA within
        // about one resolution (kwok integrates its CPU counter at each scrape). The request
        // timeout must stay under 90 % of it.
        `--metric-resolution=${METRIC_RESOLUTION_SECONDS}s`, '--kubelet-request-timeout=5s',
      ],
    },
  };
  writeState(state);
  return state;
}

function stopPid(pid: number | undefined, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  if (!isAlive(pid)) return Promise.resolve();
  try {
    process.kill(pid as number, signal);
  } catch {
    return Promise.resolve();
  }
  return (async () => {
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
    if (isAlive(pid)) process.kill(pid as number, 'SIGKILL');
    for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  })();
}

/**
 * Stops one component (for outage tests); `startComponent` brings it back with the same flags.
 * SIGKILL is a crash: nothing is flushed or closed.
 */
export async function stopComponent(c: Component, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  const state = readState();
  if (!state) throw new Error('the test cluster is not up');
  await stopPid(state.pids[c], signal);
  delete state.pids[c];
  writeState(state);
}

/**
 * Restarts kwok so that it plays every pod's stage again, as kubelets resync after an outage (kwok
 * never does: a stage whose write failed with anything but connection refused, a timeout, 503 or
 * 429 is dropped; kwok v0.8.0 pod_controller.go, shouldRetry). The node leases go first: a new
 * kwok has a new identity and would otherwise wait 40 s for the old holder's leases to expire.
 */
export async function restartKwok(): Promise<void> {
  await stopComponent('kwok', 'SIGKILL');
  const state = readState();
  if (!state) throw new Error('the test cluster is not up');
  kubectl(state, ['delete', 'leases', '-n', 'kube-node-lease', '--all']);
  await startComponent('kwok');
}

async function etcdHealthy(state: ClusterState): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${state.ports.etcdClient}/health`)).ok;
  } catch {
    return false;
  }
}

export async function startComponent(c: Component): Promise<void> {
  const state = readState();
  if (!state) throw new Error('the test cluster is not up');
  startProcess(state, c);
  if (c === 'kube-apiserver') await waitFor(state, c, '/readyz', () => isReady(state));
  if (c === 'etcd') await waitFor(state, c, 'its client port', () => etcdHealthy(state));
}

/**
 * A second kube-apiserver on the same etcd, with the cluster's flags plus `extraArgs` (a later flag
 * wins), on a port of its own and with an audit log of its own: for a scenario that needs another
 * API server setting (say --watch-cache=false, so that watches are served by etcd and an etcd
 * compaction expires them) without changing the cluster every other test shares. Stopped by the
 * returned function, and by clusterDown if the test did not.
 */
export async function startExtraApiserver(extraArgs: string[]): Promise<{ server: string; stop(): Promise<void> }> {
  const state = readState();
  if (!state) throw new Error('the test cluster is not up');
  const port = await freePort();
  const name = `kube-apiserver-extra-${port}`;
  const args = state.commands['kube-apiserver'].args
    .filter((a) => !a.startsWith('--secure-port=') && !a.startsWith('--audit-log-path='))
    .concat([`--secure-port=${port}`, `--audit-log-path=${join(stateDir, `audit-${name}.log`)}`, ...extraArgs]);
  const fd = openSync(join(logDir, `${name}.log`), 'a');
  const child = spawn(state.commands['kube-apiserver'].bin, args, { detached: true, stdio: ['ignore', fd, fd], cwd: stateDir });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error(`${name} did not start: see ${join(logDir, `${name}.log`)}`);
  state.extraPids = [...(state.extraPids ?? []), pid];
  writeState(state);
  const extra: ClusterState = { ...state, server: `https://127.0.0.1:${port}`, pids: { ...state.pids, 'kube-apiserver': pid } };
  const stop = async (): Promise<void> => {
    await stopPid(pid);
    const now = readState();
    if (now) writeState({ ...now, extraPids: (now.extraPids ?? []).filter((p) => p !== pid) });
  };
  try {
    await waitFor(extra, 'kube-apiserver', `/readyz of ${name}`, () => isReady(extra));
  } catch (err) {
    await stop();
    throw err;
  }
  return { server: extra.server, stop };
}

/** Starts the cluster, or reuses the one that is up. Returns its state. */
export async function clusterUp(): Promise<{ state: ClusterState; reused: boolean }> {
  const existing = readState();
  if (existing && components.every((c) => isAlive(existing.pids[c])) && (await isReady(existing))) {
    return { state: existing, reused: true };
  }
  if (existing) {
    log('found a stopped or broken cluster: cleaning it up first');
    await clusterDown();
  }
  const binDir = await ensureBinaries();
  const tools = await ensureModuleTools();
  const started = Date.now();
  for (const d of [stateDir, pkiDir, logDir]) mkdirSync(d, { recursive: true });
  makePki(pkiDir);
  const state = await planState(binDir, tools);
  try {
    startProcess(state, 'etcd');
    await waitFor(state, 'etcd', 'its client port', async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${state.ports.etcdClient}/health`);
        return r.ok;
      } catch {
        return false;
      }
    });
    startProcess(state, 'kube-apiserver');
    await waitFor(state, 'kube-apiserver', '/readyz', () => isReady(state));
    startProcess(state, 'kube-controller-manager');
    startProcess(state, 'kube-scheduler');
    startProcess(state, 'kwok');
    kubectl(state, ['apply', '-f', '-'], Array.from({ length: NODE_COUNT }, (_, i) => nodeManifest(i)).join('---\n'));
    await waitFor(state, 'kwok', 'the fake nodes to be Ready', async () => {
      const out = kubectl(state, ['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
      return out.split('\n').filter((l) => l === 'True').length === NODE_COUNT;
    });
    // The Gateway API's CRDs (HTTPRoute): canaries can write route weights. No data plane is needed.
    kubectl(state, ['apply', '--server-side', '--field-manager=modelship-tests', '-f', join(binDir, 'gateway-api-crds.yaml')]);
    startProcess(state, 'metrics-server');
    kubectl(state, ['apply', '-f', '-'], metricsApiService(join(pkiDir, 'ca.crt'), state.ports.metricsServer as number));
    // Until it is Available, every discovery (kubectl, the namespace controller) reports it failing.
    await waitFor(state, 'metrics-server', 'the metrics.k8s.io APIService to be Available', async () => {
      const out = kubectl(state, ['get', 'apiservice', 'v1beta1.metrics.k8s.io', '-o', 'jsonpath={.status.conditions[?(@.type=="Available")].status}']);
      return out.trim() === 'True';
    });
    await waitFor(state, 'kube-controller-manager', 'the default ServiceAccount', async () => {
      try {
        kubectl(state, ['get', 'serviceaccount', 'default', '-n', 'default']);
        return true;
      } catch {
        return false;
      }
    });
    for (const c of components) {
      if (!isAlive(state.pids[c])) throw new ComponentError(`${c} exited during start-up. Last lines of its log:\n${logTail(c)}`);
    }
  } catch (err) {
    await clusterDown({ keepLogs: true });
    throw err;
  }
  const linkDir = join(stateDir, 'bin');
  mkdirSync(linkDir, { recursive: true });
  for (const t of targets) if (!tools[t.name]) symlinkSync(join(binDir, t.name), join(linkDir, t.name));
  for (const [name, path] of Object.entries(tools)) symlinkSync(path, join(linkDir, name));
  log(`cluster is up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${state.server}`);
  return { state, reused: false };
}

/** Stops every process the cluster started, by pid, and removes the state. Harmless twice. */
export async function clusterDown(opts: { keepLogs?: boolean } = {}): Promise<void> {
  const state = readState();
  if (state) {
    for (const pid of state.extraPids ?? []) await stopPid(pid);
    // Stop the clients first and etcd last, so nothing logs a storm of connection errors.
    for (const c of ['metrics-server', 'kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'] as const) {
      await stopPid(state.pids[c]);
    }
  }
  if (!existsSync(stateDir)) return;
  if (!opts.keepLogs) {
    rmSync(stateDir, { recursive: true, force: true });
    return;
  }
  // After a failed start keep the logs to read, and drop everything else.
  for (const f of ['state.json', 'etcd', 'pki', 'kubeconfig', 'bin']) rmSync(join(stateDir, f), { recursive: true, force: true });
}

