// Where the API server is and how to authenticate to it, as kubectl reads it: --kubeconfig, else
// the files of KUBECONFIG merged (or ~/.kube/config), else the pod's service account. The common
// cases (client certificates, bearer tokens, token files, the in-cluster account with its rotating
// token) are read here with the yaml package the operator already has, so the operator does not load
// @kubernetes/client-node's configuration module, which imports every generated API model (about
// 85 MiB of RSS and half a second at start). Kubeconfigs that need client-node's auth machinery
// (exec plugins such as aws or gke-gcloud-auth-plugin, auth providers, OIDC) are handed to it.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface Connection {
  server: string;
  /** For node:https; the Buffers are PEM. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  /** The Authorization header, read per request (a projected service account token rotates). */
  authorization?: () => string | undefined;
  /** Where it came from, for logs and errors. */
  source: string;
  /** The context's namespace, when it names one. */
  namespace?: string;
}

/**
 * The kubeconfig needs client-node (exec, auth-provider, OIDC): the merged kubeconfig to hand it
 * (JSON, its file paths absolute), where it came from, and the context.
 */
export interface NeedsClientNode {
  clientNode: { config: string; source: string; context: string | undefined };
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Named<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

export interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<{ cluster?: string; user?: string; namespace?: string }>[];
}

/** Inline base64 data, else the file (its path made absolute by mergeKubeconfigs). */
function readData(file: unknown, data: unknown, what: string): Buffer | undefined {
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file !== '') {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new KubeconfigError(`Cannot read the ${what} ${file}: ${(err as Error).message}`);
    }
  }
  return undefined;
}

/** The fields of a cluster or user entry that name a file, relative to the kubeconfig that holds them. */
const FILE_FIELDS = ['certificate-authority', 'client-certificate', 'client-key', 'tokenFile'];

/**
 * Kubeconfig files merged as kubectl merges them: the first file to name a cluster, a user or a
 * context wins it, and the first to set current-context wins that; file paths in an entry are made
 * absolute against the directory of the file that holds it.
 */
export function mergeKubeconfigs(files: readonly { text: string; file: string }[]): KubeconfigFile {
  const merged: Required<Pick<KubeconfigFile, 'clusters' | 'users' | 'contexts'>> & KubeconfigFile = { clusters: [], users: [], contexts: [] };
  for (const { text, file } of files) {
    const cfg = (parse(text) ?? {}) as KubeconfigFile;
    merged['current-context'] ||= cfg['current-context'];
    const base = dirname(file);
    for (const [list, field] of [['clusters', 'cluster'], ['users', 'user'], ['contexts', 'context']] as const) {
      for (const entry of cfg[list] ?? []) {
        if (typeof entry?.name !== 'string' || merged[list].some((e) => e.name === entry.name)) continue;
        const body = { ...((entry[field] ?? {}) as Record<string, unknown>) };
        if (field !== 'context') for (const f of FILE_FIELDS) if (typeof body[f] === 'string' && body[f] !== '' && !isAbsolute(body[f])) body[f] = join(base, body[f]);
        merged[list].push({ name: entry.name, [field]: body });
      }
    }
  }
  return merged;
}

/** A connection from merged kubeconfigs (`source` names their files), or the sign that client-node must handle its auth. */
export function fromMergedKubeconfig(cfg: KubeconfigFile, source: string, contextName?: string): Connection | NeedsClientNode {
  const name = contextName ?? cfg['current-context'];
  if (!name) throw new KubeconfigError(`${source} has no current-context; pass a context`);
  const context = cfg.contexts?.find((c) => c.name === name)?.context;
  if (!context) throw new KubeconfigError(`${source} has no context named ${name}`);
  const cluster = cfg.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster['server'] !== 'string') throw new KubeconfigError(`${source}: the cluster of context ${name} has no server`);
  const user = (cfg.users?.find((u) => u.name === context.user)?.user ?? {}) as Record<string, unknown>;
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined || user['username'] !== undefined) {
    return { clientNode: { config: JSON.stringify(cfg), source, context: contextName } };
  }
  const tls: Connection['tls'] = { rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true };
  const ca = readData(cluster['certificate-authority'], cluster['certificate-authority-data'], 'certificate authority');
  if (ca) tls.ca = ca;
  const cert = readData(user['client-certificate'], user['client-certificate-data'], 'client certificate');
  if (cert) tls.cert = cert;
  const key = readData(user['client-key'], user['client-key-data'], 'client key');
  if (key) tls.key = key;
  if (typeof cluster['tls-server-name'] === 'string') tls.servername = cluster['tls-server-name'];
  const conn: Connection = { server: serverUrl(String(cluster['server']), tls, `${source}: the cluster of context ${name}`), tls, source: `${source} (context ${name})` };
  if (typeof user['token'] === 'string' && user['token'] !== '') {
    const token = user['token'];
    conn.authorization = () => `Bearer ${token}`;
  } else if (typeof user['tokenFile'] === 'string') {
    conn.authorization = tokenFileAuth(user['tokenFile']);
  }
  if (context.namespace) conn.namespace = context.namespace;
  return conn;
}

/**
 * The server as an http(s) URL without a trailing slash. As client-go reads it, a server without a
 * scheme ("10.0.0.1:6443") is https when TLS is configured (a CA, a client certificate, or
 * verification turned off), http otherwise. Anything else is refused here, at start, with where it
 * came from, not by every request.
 */
function serverUrl(server: string, tls: Connection['tls'], where: string): string {
  const withScheme = server.includes('://') ? server : `${tls.ca || tls.cert || !tls.rejectUnauthorized ? 'https' : 'http'}://${server}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new KubeconfigError(`${where} has a server that is not a URL: "${server}"`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') throw new KubeconfigError(`${where} has a server that is not an http(s) URL: "${server}"`);
  return withScheme.replace(/\/+$/, '');
}

/** A bearer token read from a file, again at most once a minute (kubelet rotates projected tokens). */
function tokenFileAuth(path: string): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    const now = performance.now();
    if (now - readAt > 60_000) {
      token = readFileSync(path, 'utf8').trim();
      readAt = now;
    }
    return `Bearer ${token}`;
  };
}

/** The pod's service account, as client-go's rest.InClusterConfig reads it. */
export function inCluster(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): Connection | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port || !existsSync(join(dir, 'token'))) return undefined;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const conn: Connection = { server, tls: { ca: readFileSync(join(dir, 'ca.crt')), rejectUnauthorized: true }, authorization: tokenFileAuth(join(dir, 'token')), source: 'in-cluster service account' };
  if (existsSync(join(dir, 'namespace'))) conn.namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim();
  return conn;
}

/**
 * As kubectl (client-go's loading rules): --kubeconfig alone; else the files of KUBECONFIG that
 * exist, merged (a missing one is skipped; ~/.kube/config is not read when KUBECONFIG is set); else
 * ~/.kube/config; else the pod's service account.
 */
export function loadConnection(opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv } = {}): Connection | NeedsClientNode {
  const env = opts.env ?? process.env;
  const listed =
    opts.kubeconfig !== undefined ? [opts.kubeconfig]
    : env['KUBECONFIG'] ? [...new Set(env['KUBECONFIG'].split(delimiter).filter(Boolean))]
    : [join(env['HOME'] ?? homedir(), '.kube', 'config')];
  const files = listed.filter((f) => existsSync(f));
  if (opts.kubeconfig !== undefined && files.length === 0) throw new KubeconfigError(`The kubeconfig ${opts.kubeconfig} does not exist`);
  if (files.length > 0) {
    const cfg = mergeKubeconfigs(files.map((file) => ({ text: readFileSync(file, 'utf8'), file })));
    return fromMergedKubeconfig(cfg, files.join(delimiter), opts.context);
  }
  const pod = inCluster(env);
  if (pod) return pod;
  throw new KubeconfigError('No kubeconfig: set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account');
}
