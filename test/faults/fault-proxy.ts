// An HTTP-aware fault proxy between the operator and kube-apiserver, for the faults a TCP proxy
// (toxiproxy) cannot express: answers with HTTP status codes (500, 503, 429 with Retry-After), and
// faults aimed at watch streams only (cut mid-stream, or hung: no byte and no close).
//
// It terminates TLS with the API server's own serving certificate (valid for 127.0.0.1, signed by
// the cluster CA, so the operator's kubeconfig only changes its server URL) and forwards every
// request with a client certificate of the operator's identity, which the test makes for it. The
// audit log therefore shows the operator's user for every request that reached the API server, and
// nothing for a request the proxy answered itself: writes are counted from the audit log as in the
// other tests, and the proxy counts what it injected.
import { Agent, createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';

export interface FaultPlan {
  /** Share of requests (0..1) answered with one of `codes` instead of the API server's answer. */
  errorRate: number;
  codes: readonly number[];
  /** Seconds in Retry-After (and details.retryAfterSeconds) of 429 and 503 answers. */
  retryAfterSeconds: number;
  /**
   * Share of injected errors on writes that are sent after the write reached the API server: the
   * write lands, the operator hears only the error (an etcd timeout after commit, a dropped reply).
   */
  afterForwardShare: number;
  /** Added before each request is forwarded. */
  latencyMs: number;
}

export const NO_FAULTS: FaultPlan = { errorRate: 0, codes: [500, 503, 429], retryAfterSeconds: 1, afterForwardShare: 0.5, latencyMs: 0 };

export interface ProxyStats {
  requests: number;
  /** Injected answers by code. */
  injected: Record<string, number>;
  /** Injected errors whose write had reached the API server. */
  injectedAfterWrite: number;
  watchesOpened: number;
  watchesCut: number;
  watchesHung: number;
  /** For each hung watch, ms from the hang until the client gave up on it (closed its end). */
  hangDetectedMs: number[];
}

export interface Tls {
  ca: string;
  serverCert: string;
  serverKey: string;
  /** The identity requests are forwarded with. */
  clientCert: string;
  clientKey: string;
}

const REASONS: Record<number, string> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };

/** A metav1.Status as the API server sends it, so the client parses it as it would a real one. */
export function statusBody(code: number, retryAfterSeconds: number): string {
  const retry = code === 429 || code === 503;
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `injected by the fault proxy: ${REASONS[code] ?? 'error'}`,
    reason: REASONS[code] ?? 'InternalError',
    ...(retry ? { details: { retryAfterSeconds } } : {}),
    code,
  });
}

function isWatch(url: string): boolean {
  const q = new URL(url, 'https://x').searchParams;
  return q.get('watch') === '1' || q.get('watch') === 'true';
}

interface OpenWatch {
  res: ServerResponse;
  upstream: IncomingMessage;
  hungAt?: number;
}

export class FaultProxy {
  readonly port: number;
  readonly url: string;
  plan: FaultPlan = { ...NO_FAULTS };
  readonly stats: ProxyStats = { requests: 0, injected: {}, injectedAfterWrite: 0, watchesOpened: 0, watchesCut: 0, watchesHung: 0, hangDetectedMs: [] };
  private readonly server: Server;
  private readonly agent: Agent;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<OpenWatch>();
  private readonly random: () => number;

  private constructor(server: Server, agent: Agent, port: number, random: () => number) {
    this.server = server;
    this.agent = agent;
    this.port = port;
    this.url = `https://127.0.0.1:${port}`;
    this.random = random;
  }

  static async start(upstream: string, tls: Tls, random: () => number = Math.random): Promise<FaultProxy> {
    const up = new URL(upstream);
    const agent = new Agent({ keepAlive: true, maxSockets: 256, ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) });
    let proxy: FaultProxy | undefined;
    const server = createServer({ cert: readFileSync(tls.serverCert), key: readFileSync(tls.serverKey) }, (req, res) => proxy?.handle(req, res, up));
    server.on('connection', (s: Socket) => {
      proxy?.sockets.add(s);
      s.on('close', () => proxy?.sockets.delete(s));
    });
    // A client that vanishes mid-handshake is not our failure.
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (typeof addr !== 'object' || !addr) throw new Error('the fault proxy has no address');
    proxy = new FaultProxy(server, agent, addr.port, random);
    return proxy;
  }

  set(plan: Partial<FaultPlan>): void {
    this.plan = { ...this.plan, ...plan };
  }

  openWatches(): number {
    return [...this.watches].filter((w) => w.hungAt === undefined).length;
  }

  /** Cuts every open watch stream mid-stream (the connection is destroyed, as a load balancer does). */
  cutWatches(): number {
    let n = 0;
    for (const w of this.watches) {
      if (w.hungAt !== undefined) continue;
      this.watches.delete(w);
      w.upstream.destroy();
      w.res.socket?.destroy();
      n++;
    }
    this.stats.watchesCut += n;
    return n;
  }

  /** Every open watch stream stops carrying bytes, and stays open: the client must notice by itself. */
  hangWatches(): number {
    let n = 0;
    const at = performance.now();
    for (const w of this.watches) {
      if (w.hungAt !== undefined) continue;
      w.hungAt = at;
      w.upstream.unpipe(w.res);
      w.upstream.pause();
      n++;
    }
    this.stats.watchesHung += n;
    return n;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.upstream.destroy();
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private inject(res: ServerResponse, code: number): void {
    this.stats.injected[code] = (this.stats.injected[code] ?? 0) + 1;
    const body = statusBody(code, this.plan.retryAfterSeconds);
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    if (code === 429 || code === 503) headers['Retry-After'] = this.plan.retryAfterSeconds;
    res.writeHead(code, headers).end(body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, up: URL): Promise<void> {
    this.stats.requests++;
    const plan = this.plan;
    const watch = isWatch(req.url ?? '/');
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    let code: number | undefined;
    let afterForward = false;
    if (plan.errorRate > 0 && this.random() < plan.errorRate) {
      code = plan.codes[Math.floor(this.random() * plan.codes.length)] ?? 500;
      afterForward = write && this.random() < plan.afterForwardShare;
    }
    if (plan.latencyMs > 0) await new Promise((r) => setTimeout(r, plan.latencyMs));
    if (code !== undefined && !afterForward) {
      req.resume();
      this.inject(res, code);
      return;
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    let upResponse: IncomingMessage | undefined;
    const upReq = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent: this.agent }, (upRes) => {
      upResponse = upRes;
      if (code !== undefined) {
        // The write landed; its answer is lost and the client hears an error instead.
        upRes.resume();
        this.stats.injectedAfterWrite++;
        this.inject(res, code);
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (watch && upRes.statusCode === 200) {
        const w: OpenWatch = { res, upstream: upRes };
        this.watches.add(w);
        this.stats.watchesOpened++;
        res.on('close', () => {
          this.watches.delete(w);
          if (w.hungAt !== undefined) this.stats.hangDetectedMs.push(performance.now() - w.hungAt);
          upRes.destroy();
        });
      }
      upRes.pipe(res);
    });
    // The API server is unreachable or dropped us: the client sees its connection reset, as it
    // would without the proxy.
    upReq.on('error', () => res.socket?.destroy());
    // The client went away (its timeout, or it gave up on a hung watch): so does our request.
    res.on('close', () => {
      if (!upResponse?.complete) upReq.destroy();
    });
    req.pipe(upReq);
  }
}
