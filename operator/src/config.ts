// Operator configuration from command-line flags and environment variables (flags win).
// parseConfig is pure: it takes argv and env and returns a validated Config or throws a
// ConfigError that names the flag (and its environment variable) and says what is allowed.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface BindAddress {
  /** Empty means every interface. */
  host: string;
  port: number;
}

export interface Config {
  logLevel: LogLevel;
  concurrency: number;
  /** Empty means all namespaces. */
  watchNamespaces: string[];
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  /** null when disabled with "0". */
  metricsBindAddress: BindAddress | null;
  healthProbeBindAddress: BindAddress;
  /** Runtime name → image, overriding the built-in images. */
  runtimeImages: Record<string, string>;
  fetcherImage: string | undefined;
  clusterDomain: string;
  shutdownTimeoutSeconds: number;
  /** A watch that sends no byte for this long is treated as dead and reopened. */
  watchInactivityTimeoutSeconds: number;
}

export class ConfigError extends Error {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.flag = flag;
  }
}

type Env = Record<string, string | undefined>;

interface FlagSpec {
  flag: string;
  env: string[];
  boolean?: boolean;
  repeatable?: boolean;
}

const SPECS = {
  logLevel: { flag: 'log-level', env: ['MODELSHIP_LOG_LEVEL'] },
  concurrency: { flag: 'concurrency', env: ['MODELSHIP_CONCURRENCY'] },
  watchNamespaces: { flag: 'watch-namespaces', env: ['MODELSHIP_WATCH_NAMESPACES'] },
  leaderElect: { flag: 'leader-elect', env: ['MODELSHIP_LEADER_ELECT'], boolean: true },
  leaderElectionNamespace: { flag: 'leader-election-namespace', env: ['MODELSHIP_NAMESPACE', 'POD_NAMESPACE'] },
  leaderElectionId: { flag: 'leader-election-id', env: ['MODELSHIP_LEADER_ELECTION_ID'] },
  metricsBindAddress: { flag: 'metrics-bind-address', env: ['MODELSHIP_METRICS_BIND_ADDRESS'] },
  healthProbeBindAddress: { flag: 'health-probe-bind-address', env: ['MODELSHIP_HEALTH_PROBE_BIND_ADDRESS'] },
  runtimeImages: { flag: 'runtime-image', env: ['MODELSHIP_RUNTIME_IMAGES'], repeatable: true },
  fetcherImage: { flag: 'model-fetcher-image', env: ['MODELSHIP_MODEL_FETCHER_IMAGE'] },
  clusterDomain: { flag: 'cluster-domain', env: ['MODELSHIP_CLUSTER_DOMAIN'] },
  shutdownTimeoutSeconds: { flag: 'shutdown-timeout-seconds', env: ['MODELSHIP_SHUTDOWN_TIMEOUT_SECONDS'] },
  watchInactivityTimeoutSeconds: { flag: 'watch-inactivity-timeout-seconds', env: ['MODELSHIP_WATCH_INACTIVITY_TIMEOUT_SECONDS'] },
} satisfies Record<keyof Config, FlagSpec>;

/** Flags main handles itself; parseConfig accepts and ignores them. */
const PASSIVE_FLAGS = new Set(['version', 'help']);

export function wantsVersion(argv: readonly string[]): boolean {
  return argv.includes('--version');
}

export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Where a value came from, for error messages. */
interface Source {
  flag: string;
  value: string;
  label: string;
}

function splitArgv(argv: readonly string[]): Map<string, string[]> {
  const byFlag = new Map<string, string[]>();
  const specs = Object.values(SPECS) as FlagSpec[];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h') continue;
    if (!arg.startsWith('--')) {
      throw new ConfigError(arg, `Unexpected argument "${arg}": the operator takes only --flags (see --help).`);
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (PASSIVE_FLAGS.has(name)) continue;
    const spec = specs.find((s) => s.flag === name);
    if (!spec) {
      throw new ConfigError(`--${name}`, `Unknown flag --${name}. Known flags: ${specs.map((s) => `--${s.flag}`).join(', ')}.`);
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec.boolean) value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new ConfigError(`--${name}`, `Flag --${name} needs a value (--${name}=VALUE).`);
      }
      value = next;
      i++;
    }
    const list = byFlag.get(name) ?? [];
    list.push(value);
    byFlag.set(name, list);
  }
  return byFlag;
}

function pick(spec: FlagSpec, flags: Map<string, string[]>, env: Env): Source | undefined {
  const fromFlag = flags.get(spec.flag);
  if (fromFlag && fromFlag.length > 0) {
    if (fromFlag.length > 1 && !spec.repeatable) {
      throw new ConfigError(`--${spec.flag}`, `Flag --${spec.flag} was given ${fromFlag.length} times; give it once.`);
    }
    return { flag: `--${spec.flag}`, value: fromFlag[fromFlag.length - 1] ?? '', label: `--${spec.flag}` };
  }
  for (const name of spec.env) {
    const v = env[name];
    if (v !== undefined && v !== '') return { flag: `--${spec.flag}`, value: v, label: name };
  }
  return undefined;
}

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
// RFC 1123 label, as Kubernetes requires for namespace names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// RFC 1123 subdomain, as Kubernetes requires for most object names (Lease names included).
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function fail(src: Source, spec: FlagSpec, allowed: string): never {
  const where = src.label === src.flag ? src.flag : `${src.label} (flag --${spec.flag})`;
  throw new ConfigError(src.flag, `Invalid value "${src.value}" for ${where}: ${allowed}`);
}

function parseInteger(src: Source, spec: FlagSpec, min: number, max: number): number {
  const n = /^-?\d+$/.test(src.value.trim()) ? Number(src.value.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) fail(src, spec, `must be a whole number from ${min} to ${max}.`);
  return n;
}

function parseBoolean(src: Source, spec: FlagSpec): boolean {
  const v = src.value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return fail(src, spec, 'must be true or false.');
}

/** Parses "HOST:PORT", ":PORT" or "[IPv6]:PORT". Throws a plain Error with the reason. */
export function parseBindAddress(text: string): BindAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new Error('must look like :PORT or HOST:PORT (for example :8080 or 127.0.0.1:8080).');
  const port = Number(m[2]);
  if (port > 65535) throw new Error('the port must be from 0 to 65535.');
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  return { host, port };
}

function parseBind(src: Source, spec: FlagSpec): BindAddress {
  try {
    return parseBindAddress(src.value);
  } catch (err) {
    return fail(src, spec, (err as Error).message);
  }
}

function parseNamespaces(src: Source, spec: FlagSpec): string[] {
  const names = src.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!DNS_LABEL.test(n) || n.length > 63) {
      fail(src, spec, `"${n}" is not a namespace name (lower-case letters, digits and '-', at most 63 characters).`);
    }
  }
  return [...new Set(names)];
}

function parseImageEntries(src: Source, spec: FlagSpec, entries: string[], into: Record<string, string>): void {
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const name = eq === -1 ? '' : entry.slice(0, eq).trim();
    const image = eq === -1 ? '' : entry.slice(eq + 1).trim();
    if (name === '' || image === '') {
      fail({ ...src, value: entry }, spec, 'must be NAME=IMAGE, for example sklearn=registry.example.com/sklearn-server:1.5.');
    }
    if (!DNS_LABEL.test(name)) {
      fail({ ...src, value: entry }, spec, `the runtime name "${name}" may hold only lower-case letters, digits and '-'.`);
    }
    if (/\s/.test(image)) fail({ ...src, value: entry }, spec, `the image "${image}" must not contain spaces.`);
    into[name] = image;
  }
}

function parseImage(src: Source, spec: FlagSpec): string {
  const v = src.value.trim();
  if (v === '' || /\s/.test(v)) fail(src, spec, 'must be an image reference without spaces.');
  return v;
}

export function parseConfig(argv: readonly string[], env: Env): Config {
  const flags = splitArgv(argv);
  const get = (spec: FlagSpec): Source | undefined => pick(spec, flags, env);

  const config: Config = {
    logLevel: 'info',
    concurrency: 4,
    watchNamespaces: [],
    leaderElect: true,
    leaderElectionNamespace: 'default',
    leaderElectionId: 'modelship-operator',
    metricsBindAddress: { host: '', port: 8080 },
    healthProbeBindAddress: { host: '', port: 8081 },
    runtimeImages: {},
    fetcherImage: undefined,
    clusterDomain: 'cluster.local',
    shutdownTimeoutSeconds: 30,
    watchInactivityTimeoutSeconds: 150,
  };

  let src = get(SPECS.logLevel);
  if (src) {
    const v = src.value.trim().toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(v)) fail(src, SPECS.logLevel, `must be one of ${LOG_LEVELS.join(', ')}.`);
    config.logLevel = v as LogLevel;
  }
  src = get(SPECS.concurrency);
  if (src) config.concurrency = parseInteger(src, SPECS.concurrency, 1, 100);
  src = get(SPECS.watchNamespaces);
  if (src) config.watchNamespaces = parseNamespaces(src, SPECS.watchNamespaces);
  src = get(SPECS.leaderElect);
  if (src) config.leaderElect = parseBoolean(src, SPECS.leaderElect);
  src = get(SPECS.leaderElectionNamespace);
  if (src) {
    const v = src.value.trim();
    if (!DNS_LABEL.test(v) || v.length > 63) fail(src, SPECS.leaderElectionNamespace, 'must be a namespace name (lower-case letters, digits and \'-\', at most 63 characters).');
    config.leaderElectionNamespace = v;
  }
  src = get(SPECS.leaderElectionId);
  if (src) {
    const v = src.value.trim();
    if (!DNS_SUBDOMAIN.test(v) || v.length > 253) fail(src, SPECS.leaderElectionId, 'must be a Kubernetes object name (lower-case letters, digits, \'-\' and \'.\').');
    config.leaderElectionId = v;
  }
  src = get(SPECS.metricsBindAddress);
  if (src) config.metricsBindAddress = src.value.trim() === '0' ? null : parseBind(src, SPECS.metricsBindAddress);
  src = get(SPECS.healthProbeBindAddress);
  if (src) config.healthProbeBindAddress = parseBind(src, SPECS.healthProbeBindAddress);

  // Runtime images: flags replace the environment entirely when given.
  const imageFlags = flags.get(SPECS.runtimeImages.flag);
  if (imageFlags && imageFlags.length > 0) {
    const s: Source = { flag: '--runtime-image', value: '', label: '--runtime-image' };
    parseImageEntries(s, SPECS.runtimeImages, imageFlags, config.runtimeImages);
  } else {
    const v = env.MODELSHIP_RUNTIME_IMAGES;
    if (v !== undefined && v.trim() !== '') {
      const s: Source = { flag: '--runtime-image', value: v, label: 'MODELSHIP_RUNTIME_IMAGES' };
      const entries = v.split(',').map((e) => e.trim()).filter((e) => e !== '');
      parseImageEntries(s, SPECS.runtimeImages, entries, config.runtimeImages);
    }
  }

  src = get(SPECS.fetcherImage);
  if (src) config.fetcherImage = parseImage(src, SPECS.fetcherImage);
  src = get(SPECS.clusterDomain);
  if (src) {
    const v = src.value.trim().replace(/\.$/, '');
    if (!DNS_SUBDOMAIN.test(v)) fail(src, SPECS.clusterDomain, 'must be a DNS domain such as cluster.local.');
    config.clusterDomain = v;
  }
  src = get(SPECS.shutdownTimeoutSeconds);
  if (src) config.shutdownTimeoutSeconds = parseInteger(src, SPECS.shutdownTimeoutSeconds, 1, 3600);
  src = get(SPECS.watchInactivityTimeoutSeconds);
  // Above the API server's bookmark period (about a minute) in production; tests go lower.
  if (src) config.watchInactivityTimeoutSeconds = parseInteger(src, SPECS.watchInactivityTimeoutSeconds, 1, 3600);
  return config;
}

export const USAGE = `Usage: modelship-operator [flags]

Flags (each also read from the environment variable shown; a flag wins over its variable):
  --log-level=LEVEL                  error|warn|info|debug (MODELSHIP_LOG_LEVEL, default info)
  --concurrency=N                    reconciles run at once, 1..100 (MODELSHIP_CONCURRENCY, default 4)
  --watch-namespaces=A,B             namespaces to watch; empty = all (MODELSHIP_WATCH_NAMESPACES)
  --leader-elect[=true|false]        elect a leader on a Lease (MODELSHIP_LEADER_ELECT, default true)
  --leader-election-namespace=NS     namespace of the Lease (MODELSHIP_NAMESPACE or POD_NAMESPACE, default default)
  --leader-election-id=NAME          name of the Lease (MODELSHIP_LEADER_ELECTION_ID, default modelship-operator)
  --metrics-bind-address=ADDR        /metrics address, "0" disables (MODELSHIP_METRICS_BIND_ADDRESS, default :8080)
  --health-probe-bind-address=ADDR   /healthz and /readyz address (MODELSHIP_HEALTH_PROBE_BIND_ADDRESS, default :8081)
  --runtime-image=NAME=IMAGE         override a runtime's image; repeatable (MODELSHIP_RUNTIME_IMAGES=NAME=IMAGE,...)
  --model-fetcher-image=IMAGE        image of the model fetcher init container (MODELSHIP_MODEL_FETCHER_IMAGE)
  --cluster-domain=DOMAIN            cluster DNS domain for status URLs (MODELSHIP_CLUSTER_DOMAIN, default cluster.local)
  --shutdown-timeout-seconds=N       longest wait for in-flight reconciles on SIGTERM (MODELSHIP_SHUTDOWN_TIMEOUT_SECONDS, default 30)
  --watch-inactivity-timeout-seconds=N  reopen a watch that sent nothing for N s (MODELSHIP_WATCH_INACTIVITY_TIMEOUT_SECONDS, default 150)
  --version                          print the version and exit
`;

function readVersion(): string {
  // Walk up from this file: the same code runs from operator/src and from dist.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'modelship' && typeof pkg.version === 'string') return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}

export const VERSION: string = readVersion();
