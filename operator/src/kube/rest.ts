// The HTTP layer to the API server. We build requests ourselves rather than use client-node's
// generated clients so that bodies stay plain JSON (no Date conversion, no dropped unknown fields),
// no discovery calls are made, and every request is counted in rest_client_requests_total. The
// transport is node:https on the connection the kubeconfig describes (kube/connection.ts); only a
// kubeconfig that needs client-node's auth (exec plugins, auth providers) loads client-node.
import { VERSION } from '../config.ts';
import { metrics as defaultMetrics, type Metrics } from '../observability/metrics.ts';
import { loadConnection, type Connection } from './connection.ts';
import { decode } from './decode.ts';
import { KubeApiError } from './errors.ts';
import { nodeSender, type HttpResponse, type HttpSender } from './http.ts';
import type { StatusBody } from './types.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type { HttpResponse, HttpSender } from './http.ts';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Milliseconds before the request is aborted; default 30 s. 0 disables (watches). */
  timeoutMs?: number;
  /** The Accept header; default application/json. */
  accept?: string;
  /** request(): decode the answer without metadata.managedFields (a built-in kind's object only: decode.ts). */
  withoutManagedFields?: boolean;
}

export interface RestClientOptions {
  metrics?: Metrics;
  userAgent?: string;
  /**
   * Called right before every request that is not a GET; throws to refuse it. The leader's fence:
   * no write leaves a replica that no longer holds the lease (see LeaderElector.holdsLease).
   */
  writeFence?: () => void;
  /**
   * Called when the fence, run again right after a write's bytes were handed to the socket, refuses:
   * the process paused between the check and the send, long enough for the fence to close, and the
   * write left anyway. No check inside the process can recall bytes it was about to send when it
   * froze; this says that it happened, and which write.
   */
  onLateWrite?: (write: LateWrite) => void;
}

export interface LateWrite {
  method: Method;
  /** Path and query, as the API server's audit log records requestURI. */
  uri: string;
  /** From the fence's check to the bytes leaving. */
  sinceCheckMs: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export class RestClient {
  readonly server: string;
  /** The namespace of the kubeconfig's context (or the pod's), when it names one. */
  readonly namespace: string | undefined;
  private readonly m: Metrics;
  private readonly userAgent: string;
  private readonly options: RestClientOptions;
  private readonly target: { server: string; sender: HttpSender; namespace?: string };
  /** The server's host, the label of rest_client_requests_total. */
  private readonly host: string;

  constructor(target: { server: string; sender: HttpSender; namespace?: string }, options: RestClientOptions = {}) {
    this.target = target;
    this.server = target.server.replace(/\/+$/, '');
    this.host = new URL(this.server).host;
    this.namespace = target.namespace;
    this.options = options;
    this.m = options.metrics ?? defaultMetrics;
    this.userAgent = options.userAgent ?? `modelship-operator/${VERSION}`;
  }

  /** A client on a connection (node:https). */
  static forConnection(conn: Connection, options: RestClientOptions = {}): RestClient {
    return new RestClient({ server: conn.server, sender: nodeSender(conn), ...(conn.namespace ? { namespace: conn.namespace } : {}) }, options);
  }

  /** --kubeconfig (or KUBECONFIG, ~/.kube/config, the in-cluster service account), as kubectl reads it. */
  static async fromDefault(options: RestClientOptions & { kubeconfig?: string; context?: string } = {}): Promise<RestClient> {
    const found = loadConnection({ ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}), ...(options.context !== undefined ? { context: options.context } : {}) });
    if ('clientNode' in found) {
      const { clientNodeSender } = await import('./client-node-sender.ts');
      return new RestClient(clientNodeSender(found.clientNode.config, found.clientNode.source, found.clientNode.context), options);
    }
    return RestClient.forConnection(found, options);
  }

  /** A client for a kubeconfig file with certificates or tokens (no exec plugins): for tests and tools. */
  static forKubeconfig(file: string, options: RestClientOptions = {}): RestClient {
    const found = loadConnection({ kubeconfig: file });
    if ('clientNode' in found) throw new Error(`${file} needs client-node's auth; use RestClient.fromDefault`);
    return RestClient.forConnection(found, options);
  }

  /** Another client on the same server and credentials, with these options over ours, and a fence only if `options` gives one. */
  withOptions(options: RestClientOptions): RestClient {
    const { writeFence: _fence, ...ours } = this.options;
    return new RestClient(this.target, { ...ours, ...options });
  }

  /**
   * The path with its query, as the request line carries it. Built as a string: a URL object per
   * request (parsed, then re-serialised at each parameter set, then taken apart again by node:http)
   * was 1 % of the operator's CPU under load.
   */
  private pathWithQuery(path: string, query: RequestOptions['query']): string {
    let q = '';
    for (const k in query) {
      const v = query[k];
      if (v !== undefined) q += `${q === '' ? '?' : '&'}${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`;
    }
    return path + q;
  }

  /** Sends a request and returns the raw response (any status). Counts it. */
  async send(method: Method, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const target = this.pathWithQuery(path, options.query);
    const headers: Record<string, string> = { Accept: options.accept ?? 'application/json', 'User-Agent': this.userAgent };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    // One controller per request, released as soon as its body is read: AbortSignal.timeout() and
    // AbortSignal.any() would keep every response (its socket state and body) reachable from a
    // timer for the whole timeout, 22 MiB per 3,000 requests of 4 KiB at the default 30 s.
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const parent = options.signal;
    const ac = new AbortController();
    const onParentAbort = (): void => ac.abort(parent?.reason);
    if (parent?.aborted) ac.abort(parent.reason);
    else parent?.addEventListener('abort', onParentAbort, { once: true });
    const timer = timeoutMs > 0 ? setTimeout(() => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs) : undefined;
    const release = (): void => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    };
    // The fence is checked here, and again by the sender once the request has a connected socket,
    // right before its bytes leave: a process frozen in between (SIGSTOP, a long pause) while a new
    // TLS connection was being set up would otherwise send the write when it wakes. It is run a
    // third time right after the bytes left, to report a write that a pause between that last
    // check and the send let out after the fence closed (onLateWrite).
    const fence = method !== 'GET' ? this.options.writeFence : undefined;
    let response: HttpResponse;
    try {
      fence?.();
      response = await this.target.sender.send({
        method,
        path: target,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: ac.signal,
        onResend: this.countResend,
        ...(fence ? { beforeWrite: fence, afterWrite: (sinceCheckMs: number) => this.fencedAgain(fence, method, target, sinceCheckMs) } : {}),
      });
    } catch (err) {
      release();
      this.m.restClientRequests.inc({ code: '<error>', method, host: this.host });
      throw err;
    }
    this.m.restClientRequests.inc({ code: String(response.status), method, host: this.host });
    return {
      status: response.status,
      text: () => response.text().finally(release),
      each: (onChunk) => response.each(onChunk).finally(release),
      cancel: () => {
        release();
        response.cancel();
      },
    };
  }

  /** A request sent again on another socket by the sender: still one request, counted apart. */
  private readonly countResend = (method: string): void => {
    this.m.restClientResends.inc({ method, host: this.host });
  };

  /** The fence once more, after the write left: if it refuses now, the write left after it closed. */
  private fencedAgain(fence: () => void, method: Method, uri: string, sinceCheckMs: number): void {
    try {
      fence();
    } catch {
      this.options.onLateWrite?.({ method, uri, sinceCheckMs });
    }
  }

  /** Sends a request and leaves its body to read; a status of 400 or more throws KubeApiError. */
  async open(method: Method, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const response = await this.send(method, path, options);
    if (response.status >= 400) {
      const text = await response.text();
      throw new KubeApiError(method, path, response.status, parseStatus(text), text);
    }
    return response;
  }

  /** Sends a request and parses the JSON answer; a status of 400 or more throws KubeApiError. */
  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await (await this.open(method, path, options)).text();
    return (text === '' ? undefined : decode(text, options.withoutManagedFields === true)) as T;
  }
}

export function parseStatus(text: string): StatusBody | undefined {
  try {
    const v = JSON.parse(text) as StatusBody;
    return v && typeof v === 'object' && v.kind === 'Status' ? v : undefined;
  } catch {
    return undefined;
  }
}
