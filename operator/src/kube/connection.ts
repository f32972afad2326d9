// Where the API server is and how to authenticate to it, as kubectl reads it: --kubeconfig, else
// KUBECONFIG or ~/.kube/config, else the pod's service account. The common cases (client
// certificates, bearer tokens, token files, the in-cluster account with its rotating token) are
// read here with the yaml package the operator already has, so the operator does not load
// @kubernetes/client-node's configuration module, which imports every generated API model (about
// 85 MiB of RSS and half a second at start). Kubeconfigs that need client-node's auth machinery
// (exec plugins such as aws or gke-gcloud-auth-plugin, auth providers, OIDC) are handed to it.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
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

/** The kubeconfig needs client-node (exec, auth-provider, OIDC): the file and context to hand it. */
export interface NeedsClientNode {
  clientNode: { file: string; context: string | undefined };
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

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<{ cluster?: string; user?: string; namespace?: string }>[];
}

function readData(base: string, file: unknown, data: unknown, what: string): Buffer | undefined {
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file !== '') {
    const path = isAbsolute(file) ? file : join(base, file);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new KubeconfigError(`Cannot read the ${what} ${path}: ${(err as Error).message}`);
    }
  }
  return undefined;
}

/** A connection from a kubeconfig's text, or the sign that client-node must handle its auth. Pure but for the files it names. */
export function fromKubeconfig(text: string, file: string, contextName?: string): Connection | NeedsClientNode {
  const cfg = (parse(text) ?? {}) as KubeconfigFile;
  const name = contextName ?? cfg['current-context'];
  if (!name) throw new KubeconfigError(`${file} has no current-context; pass a context`);
  const context = cfg.contexts?.find((c) => c.name === name)?.context;
  if (!context) throw new KubeconfigError(`${file} has no context named ${name}`);
  const cluster = cfg.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster['server'] !== 'string') throw new KubeconfigError(`${file}: the cluster of context ${name} has no server`);
  const user = (cfg.users?.find((u) => u.name === context.user)?.user ?? {}) as Record<string, unknown>;
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined || user['username'] !== undefined) {
    return { clientNode: { file, context: contextName } };
  }
  const base = dirname(file);
  const tls: Connection['tls'] = { rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true };
  const ca = readData(base, cluster['certificate-authority'], cluster['certificate-authority-data'], 'certificate authority');
  if (ca) tls.ca = ca;
  const cert = readData(base, user['client-certificate'], user['client-certificate-data'], 'client certificate');
  if (cert) tls.cert = cert;
  const key = readData(base, user['client-key'], user['client-key-data'], 'client key');
  if (key) tls.key = key;
  if (typeof cluster['tls-server-name'] === 'string') tls.servername = cluster['tls-server-name'];
  const conn: Connection = { server: String(cluster['server']).replace(/\/+$/, ''), tls, source: `${file} (context ${name})` };
  if (typeof user['token'] === 'string' && user['token'] !== '') {
    const token = user['token'];
    conn.authorization = () => `Bearer ${token}`;
  } else if (typeof user['tokenFile'] === 'string') {
    conn.authorization = tokenFileAuth(isAbsolute(user['tokenFile']) ? user['tokenFile'] : join(base, user['tokenFile']));
  }
  if (context.namespace) conn.namespace = context.namespace;
  return conn;
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

/** --kubeconfig, else the first file of KUBECONFIG that exists, else ~/.kube/config, else in-cluster. */
export function loadConnection(opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv } = {}): Connection | NeedsClientNode {
  const env = opts.env ?? process.env;
  const candidates = opts.kubeconfig !== undefined ? [opts.kubeconfig] : [...(env['KUBECONFIG'] ?? '').split(':').filter(Boolean), join(env['HOME'] ?? homedir(), '.kube', 'config')];
  const file = candidates.find((f) => existsSync(f));
  if (file !== undefined) return fromKubeconfig(readFileSync(file, 'utf8'), file, opts.context);
  if (opts.kubeconfig !== undefined) throw new KubeconfigError(`The kubeconfig ${opts.kubeconfig} does not exist`);
  const pod = inCluster(env);
  if (pod) return pod;
  throw new KubeconfigError('No kubeconfig: set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account');
}
