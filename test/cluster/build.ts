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
  // Built, but not run: v0.8.0 panics at start against these k8s.io pins (see moduleTools). Kept in
  // this list only because changing the list rebuilds every binary; drop it when the list changes.
  { name: 'metrics-server', pkg: 'sigs.k8s.io/metrics-server/cmd/metrics-server', ldflags: kubeLdflags },
  { name: 'toxiproxy', pkg: 'github.com/Shopify/toxiproxy/v2/cmd/server', ldflags: (v) => [`-X github.com/Shopify/toxiproxy/v2.Version=${v.toxiproxy}`] },
  // Ours: judges objects with sigs.k8s.io/cli-utils' kstatus, as Flux does (kstatus/main.go).
  { name: 'kstatus', pkg: 'modelship.dev/test/cluster/kstatus', ldflags: () => [] },
];

/** An upstream program built in its own module, with that module's own pins. */
interface ModuleTool {
  name: string;
  pkg: string;
  version: string;
  ldflags: string[];
}

/**
 * Programs whose release does not run when built against test/cluster's Kubernetes pins: each is
 * built with `go install PKG@VERSION` (its own go.mod, checked against the Go checksum database)
 * and cached apart from the binaries above, so adding or bumping one rebuilds nothing else.
 */
export const moduleTools: readonly ModuleTool[] = [
  // metrics-server v0.8.0 (pinned in go.mod) builds against k8s.io v0.37 but panics at start:
  // "unable to get openapi models: cannot find model definition for
  // io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics" (its generated OpenAPI names models by Go
  // path; k8s.io v0.35+ names them with OpenAPIModelName). v0.9.0 is generated for k8s.io v0.36.
  // Pinning v0.9.0 in go.mod instead would move shared dependencies (cbor, zap, fsnotify) and so
  // rebuild every component.
  {
    name: 'metrics-server',
    pkg: 'sigs.k8s.io/metrics-server/cmd/metrics-server',
    version: 'v0.9.0',
    ldflags: ['-X k8s.io/client-go/pkg/version.gitVersion=v0.9.0', '-X k8s.io/component-base/version.gitVersion=v0.9.0'],
  },
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
  return runGo(t.name, ['build', '-o', out, '-ldflags', ldflags, t.pkg], clusterDir, {});
}

/** Runs `go args` for the program `name` (the package is the last argument). */
function runGo(name: string, args: string[], cwd: string, env: Record<string, string>): Promise<void> {
  const t = { name, pkg: args.at(-1) ?? '' };
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('go', args, {
      cwd,
      env: { ...process.env, CGO_ENABLED: '0', ...env },
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
      else reject(new Error(`go ${args[0]} ${t.pkg} failed with exit code ${code}`));
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
  // `go mod download`, not `go list -m`: a module no built package imports (the Gateway API's,
  // read for its CRDs only) is not in a fresh module cache, where `go list -m` gives no directory.
  const moduleDir = (m: string) => (JSON.parse(execFileSync('go', ['mod', 'download', '-json', m], { cwd: clusterDir, encoding: 'utf8' })) as { Dir: string }).Dir;
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

/** Where a module tool is cached: by its name, version, flags and the Go version. */
function moduleToolDir(t: ModuleTool, go: string): string {
  const h = createHash('sha256').update(JSON.stringify([t.pkg, t.version, t.ldflags, go])).digest('hex').slice(0, 12);
  return join(cacheRoot(), `${t.name}-${t.version}-${h}`);
}

/** Builds every missing module tool; returns each one's path by name. */
export async function ensureModuleTools(): Promise<Record<string, string>> {
  const go = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  const paths: Record<string, string> = {};
  for (const t of moduleTools) {
    const dir = moduleToolDir(t, go);
    const out = join(dir, t.name);
    paths[t.name] = out;
    if (existsSync(out)) continue;
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const started = Date.now();
    log(`building ${t.name} ${t.version} in its own module (${t.pkg}@${t.version}) into ${dir}`);
    // Outside any module, so that only the tool's own go.mod decides its dependencies.
    await runGo(t.name, ['install', '-trimpath', '-ldflags', ['-s', '-w', ...t.ldflags].join(' '), `${t.pkg}@${t.version}`], tmp, { GOBIN: tmp, GOFLAGS: '-buildvcs=false' });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    log(`built ${t.name} ${t.version} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return paths;
}

/** Removes a half-written cache entry (used when a build is interrupted). */
export function cleanPartial(): void {
  for (const t of targets) rmSync(join(binDir(), `${t.name}.tmp`), { force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Promise.all([ensureBinaries(), ensureModuleTools()]).then(
    ([dir]) => process.stdout.write(`${dir}\n`),
    (err: Error) => {
      log(`FAILED: ${err.message}`);
      process.exit(1);
    },
  );
}
