// The HTTP layer to the API server, on @kubernetes/client-node's KubeConfig (auth, TLS) and its
// fetch-based HttpLibrary. We build requests ourselves rather than use the generated clients so
// that bodies stay plain JSON (no Date conversion, no dropped unknown fields), no discovery calls
// are made, and every request is counted in rest_client_requests_total.
import { IsomorphicFetchHttpLibrary, KubeConfig, RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { VERSION } from '../config.ts';
import { metrics as defaultMetrics, type Metrics } from '../observability/metrics.ts';
import { KubeApiError } from './errors.ts';
import type { StatusBody } from './types.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Milliseconds before the request is aborted; default 30 s. 0 disables (watches). */
  timeoutMs?: number;
}

/** The part of client-node's HttpLibrary we use; injectable for tests. */
export interface HttpSender {
  send(request: RequestContext): Promise<ResponseContext>;
}

export const fetchSender: HttpSender = {
  send: (request) => new IsomorphicFetchHttpLibrary().send(request).toPromise(),
};

export interface RestClientOptions {
  metrics?: Metrics;
  sender?: HttpSender;
  userAgent?: string;
  /**
   * Called right before every request that is not a GET; throws to refuse it. The leader's fence:
   * no write leaves a replica that no longer holds the lease (see LeaderElector.holdsLease).
   */
  writeFence?: () => void;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export class RestClient {
  private readonly kc: KubeConfig;
  private readonly m: Metrics;
  private readonly sender: HttpSender;
  private readonly userAgent: string;
  private readonly writeFence: (() => void) | undefined;
  readonly server: string;

  constructor(kc: KubeConfig, options: RestClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('The kubeconfig has no current cluster: set KUBECONFIG or run in a pod with a service account.');
    this.kc = kc;
    this.server = cluster.server.replace(/\/+$/, '');
    this.m = options.metrics ?? defaultMetrics;
    this.sender = options.sender ?? fetchSender;
    this.userAgent = options.userAgent ?? `modelship-operator/${VERSION}`;
    this.writeFence = options.writeFence;
  }

  /** KUBECONFIG, ~/.kube/config, or the in-cluster service account, as kubectl would. */
  static fromDefault(options: RestClientOptions = {}): RestClient {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new RestClient(kc, options);
  }

  /** Another client on the same server and credentials, with other options (no fence, say). */
  withOptions(options: RestClientOptions): RestClient {
    return new RestClient(this.kc, options);
  }

  private url(path: string, query: RequestOptions['query']): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** Sends a request and returns the raw response (any status). Counts it. */
  async send(method: Method, path: string, options: RequestOptions = {}): Promise<ResponseContext> {
    const url = this.url(path, options.query);
    const ctx = new RequestContext(url.toString(), method);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('User-Agent', this.userAgent);
    if (options.body !== undefined) {
      ctx.setHeaderParam('Content-Type', options.contentType ?? 'application/json');
      ctx.setBody(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signals = [options.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    if (signals.length > 0) ctx.setSignal(signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals));
    await this.kc.applySecurityAuthentication(ctx);
    // As late as possible before the bytes leave: a fence checked earlier could be stale by now.
    if (method !== 'GET') this.writeFence?.();
    let response: ResponseContext;
    try {
      response = await this.sender.send(ctx);
    } catch (err) {
      this.m.restClientRequests.inc({ code: '<error>', method, host: url.host });
      throw err;
    }
    this.m.restClientRequests.inc({ code: String(response.httpStatusCode), method, host: url.host });
    return response;
  }

  /** Sends a request and parses the JSON answer; a status of 400 or more throws KubeApiError. */
  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    const text = await response.body.text();
    if (response.httpStatusCode >= 400) throw new KubeApiError(method, path, response.httpStatusCode, parseStatus(text), text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

function parseStatus(text: string): StatusBody | undefined {
  try {
    const v = JSON.parse(text) as StatusBody;
    return v && typeof v === 'object' && v.kind === 'Status' ? v : undefined;
  } catch {
    return undefined;
  }
}
