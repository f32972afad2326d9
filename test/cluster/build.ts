// Builds the upstream programs pinned in test/cluster/go.mod into a cache outside the repo,
// keyed by the pinned versions, so that every later run starts at once.
//
//   node test/cluster/build.ts          build what is missing, print the bin directory
//
// The cache lives in $MODELSHIP_CACHE_DIR, else $XDG_CACHE_HOME/modelship, else ~/.cache/modelship.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const clusterDir = dirname(fileURLToPath(import.meta.url));

/** The programs we build, with the package that holds each main. */
interface Target {
  name: string;
  pkg: string;
  ldflags: (v: Versions) => string[];
}

interface Versions {
  kubernetes: string;
  etcd: string;
  kwok: string;
  helm4: string;
  helm3: string;
  metricsServer: string;
  toxiproxy: string;
  cliUtils: string;
  gatewayApi: string;
  go: string;
}

function kubeLdflags(v: Versions): string[] {
  const [major, minor] = v.kubernetes.replace(/^v/, '').split('.');
  return [
    `-X k8s.io/component-base/version.gitVersion=${v.kubernetes}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    `-X k8s.io/component-base/version.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${v.kubernetes}`,
    `-X k8s.io/client-go/pkg/version.gitMajor=${major}`,
    `-X k8s.io/client-go/pkg/version.gitMinor=${minor}`,
  ];
}

export const targets: Target[] = [
  { name: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', ldflags: () => [] },
  { name: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', ldflags: kubeLdflags },
  { name: 'kube-controller-manager', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager', ldflags: kubeLdflags },
  { name: 'kube-scheduler', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler', ldflags: kubeLdflags },
  { name: 'kubectl', pkg: 'k8s.io/kubernetes/cmd/kubectl', ldflags: kubeLdflags },
  {
    name: 'kwok',
    pkg: 'sigs.k8s.io/kwok/cmd/kwok',
    ldflags: (v) => [`-X sigs.k8s.io/kwok/pkg/consts.Version=${v.kwok.replace(/^v/, '')}`],
  },
  { name: 'helm', pkg: 'helm.sh/helm/v4/cmd/helm', ldflags: (v) => [`-X helm.sh/helm/v4/internal/version.version=${v.helm4}`] },
  { name: 'helm3', pkg: 'helm.sh/helm/v3/cmd/helm', ldflags: (v) => [`-X helm.sh/helm/v3/internal/version.version=${v.helm3}`] },
  { name: 'metrics-server', pkg: 'sigs.k8s.io/metrics-server/cmd/metrics-server', ldflags: kubeLdflags },
  { name: 'toxiproxy', pkg: 'github.com/Shopify/toxiproxy/v2/cmd/server', ldflags: (v) => [`-X github.com/Shopify/toxiproxy/v2.Version=${v.toxiproxy}`] },
  // Ours: judges objects with sigs.k8s.io/cli-utils' kstatus, as Flux does (kstatus/main.go).
  { name: 'kstatus', pkg: 'modelship.dev/test/cluster/kstatus', ldflags: () => [] },
];

/**
 * kwok's configuration from its module: the "fast" stages (nodes become Ready at once, pods Running
 * and Ready at once), and the emulated kubelet resource metrics, with each pod's usage read from
 * its annotations (kwok.x-k8s.io/usage-cpu, -memory) for metrics-server.
 */
const kwokStages = [
  'kustomize/stage/node/fast/node-initialize.yaml',
  'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'kustomize/stage/pod/fast/pod-ready.yaml',
  'kustomize/stage/pod/fast/pod-complete.yaml',
  'kustomize/stage/pod/fast/pod-delete.yaml',
  'kustomize/metrics/resource/metrics-resource.yaml',
  'kustomize/metrics/usage/usage-from-annotation.yaml',
];

/** The Gateway API's standard-channel CRDs (HTTPRoute and friends), from its module. */
const gatewayCrds = [
  'gateway.networking.k8s.io_gatewayclasses.yaml',
  'gateway.networking.k8s.io_gateways.yaml',
  'gateway.networking.k8s.io_httproutes.yaml',
  'gateway.networking.k8s.io_referencegrants.yaml',
].map((f) => `config/crd/standard/${f}`);

export function readVersions(): Versions {
  const mod = readFileSync(join(clusterDir, 'go.mod'), 'utf8');
  const req = (path: string): string => {
    const m = mod.match(new RegExp(`^\\s*${path.replace(/\./g, '\\.')} (v\\S+)`, 'm'));
    if (!m?.[1]) throw new Error(`test/cluster/go.mod does not pin ${path}`);
    return m[1];
  };
  const go = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  return {
    kubernetes: req('k8s.io/kubernetes'),
    etcd: req('go.etcd.io/etcd/server/v3'),
    kwok: req('sigs.k8s.io/kwok'),
    helm4: req('helm.sh/helm/v4'),
    helm3: req('helm.sh/helm/v3'),
    metricsServer: req('sigs.k8s.io/metrics-server'),
    toxiproxy: req('github.com/Shopify/toxiproxy/v2'),
    cliUtils: req('sigs.k8s.io/cli-utils'),
    gatewayApi: req('sigs.k8s.io/gateway-api'),
    go,
  };
}

export function cacheRoot(): string {
  if (process.env.MODELSHIP_CACHE_DIR) return process.env.MODELSHIP_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'modelship');
}

/** The cache key: the pinned module graph, the targets and their flags, and the Go version. */
export function binDir(v: Versions = readVersions()): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(clusterDir, 'go.mod')));
  h.update(readFileSync(join(clusterDir, 'go.sum')));
  h.update(JSON.stringify(targets.map((t) => [t.name, t.pkg, t.ldflags(v)])));
  h.update(JSON.stringify(kwokStages));
  h.update(JSON.stringify(gatewayCrds));
  // Our own Go sources (the kstatus checker).
  h.update(readFileSync(join(clusterDir, 'kstatus', 'main.go')));
  h.update(v.go);
  return join(cacheRoot(), `k8s-${v.kubernetes}-${h.digest('hex').slice(0, 12)}`);
}

function log(msg: string): void {
  process.stderr.write(`[cluster:build] ${msg}\n`);
}

function goBuild(t: Target, v: Versions, out: string): Promise<void> {
  const ldflags = ['-s', '-w', ...t.ldflags(v)].join(' ');
  const args = ['build', '-o', out, '-ldflags', ldflags, t.pkg];
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('go', args, {
      cwd: clusterDir,
      env: { ...process.env, CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    // The first build compiles thousands of packages: say we are alive.
    const tick = setInterval(() => log(`  still compiling ${t.name} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
    child.on('error', (err) => {
      clearInterval(tick);
      reject(new Error(`could not run go to build ${t.name}: ${err.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(tick);
      if (code === 0) resolve();
      else reject(new Error(`go build ${t.pkg} failed with exit code ${code}`));
    });
  });
}

/** Builds every missing binary; returns the directory that holds them all. */
export async function ensureBinaries(): Promise<string> {
  const v = readVersions();
  const dir = binDir(v);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return dir;
  mkdirSync(dir, { recursive: true });
  log(`building Kubernetes ${v.kubernetes}, etcd ${v.etcd}, kwok ${v.kwok}, helm ${v.helm4} and ${v.helm3}, metrics-server ${v.metricsServer}, toxiproxy ${v.toxiproxy}, kstatus (cli-utils ${v.cliUtils}) with ${v.go}`);
  log(`into ${dir} (the first build takes many minutes on a small machine)`);
  const all = Date.now();
  for (const [i, t] of targets.entries()) {
    const out = join(dir, t.name);
    if (existsSync(out)) {
      log(`[${i + 1}/${targets.length}] ${t.name}: cached`);
      continue;
    }
    const started = Date.now();
    log(`[${i + 1}/${targets.length}] building ${t.name} (${t.pkg})`);
    await goBuild(t, v, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    log(`[${i + 1}/${targets.length}] built ${t.name} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const moduleDir = (m: string) => execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', m], { cwd: clusterDir, encoding: 'utf8' }).trim();
  const concat = (mod: string, files: readonly string[]) => `${files.map((f) => readFileSync(join(moduleDir(mod), f), 'utf8').trim()).join('\n---\n')}\n`;
  writeFileSync(join(dir, 'kwok-stages.yaml'), concat('sigs.k8s.io/kwok', kwokStages));
  writeFileSync(join(dir, 'gateway-api-crds.yaml'), concat('sigs.k8s.io/gateway-api', gatewayCrds));
  for (const f of ['go.mod', 'go.sum']) copyFileSync(join(clusterDir, f), join(dir, f));
  writeFileSync(marker, JSON.stringify({ versions: v, builtAt: new Date().toISOString() }, null, 2));
  log(`all binaries ready in ${Math.round((Date.now() - all) / 1000)} s; cache uses ${diskUsage(dir)}`);
  return dir;
}

function diskUsage(dir: string): string {
  let bytes = 0;
  for (const t of targets) {
    const p = join(dir, t.name);
    if (existsSync(p)) bytes += statSync(p).size;
  }
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}

/** Removes a half-written cache entry (used when a build is interrupted). */
export function cleanPartial(): void {
  for (const t of targets) rmSync(join(binDir(), `${t.name}.tmp`), { force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureBinaries().then(
    (dir) => process.stdout.write(`${dir}\n`),
    (err: Error) => {
      log(`FAILED: ${err.message}`);
      process.exit(1);
    },
  );
}
