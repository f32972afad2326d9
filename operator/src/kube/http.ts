// The HTTP layer under RestClient: a request in, a status and a body out. The default sender is
// node:https with one keep-alive agent (no fetch, no undici: less memory, and a body that is a
// stream of Buffers the watch splits into lines without building large strings).
import type http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { nodeHttp } from './node-http.ts';
import type { Connection } from './connection.ts';

export interface HttpRequest {
  method: string;
  /** The path and query, after the sender's server (and the path in its URL, if it has one). */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /**
   * Called once the request has a connected socket, right before its bytes are written; a throw
   * abandons the request unsent, with that error (the leader's write fence).
   */
  beforeWrite?: () => void;
  /**
   * Called right after the request's bytes were handed to the socket (the write to the kernel is
   * synchronous in `end()`), with the milliseconds since beforeWrite was called: a pause of the
   * process between the check and the send (SIGSTOP, a long GC pause, a suspended VM) shows here.
   */
  afterWrite?: (sinceCheckMs: number) => void;
  /** Called each time the request is sent again on another socket (see closedUnderUs), with its method. */
  onResend?: (method: string) => void;
}

export interface HttpResponse {
  status: number;
  /** The whole body as text. */
  text(): Promise<string>;
  /**
   * The body as it arrives (a watch, a list's pages): each chunk to `onChunk`, in order. Resolves
   * at the body's end; rejects when it fails, is cancelled, or `onChunk` throws (the body is then
   * dropped).
   */
  each(onChunk: (chunk: Buffer) => void): Promise<void>;
  /** Stops reading the body and closes the connection. */
  cancel(): void;
}

export interface HttpSender {
  send(request: HttpRequest): Promise<HttpResponse>;
}

function abortReason(signal: AbortSignal): Error {
  const r = signal.reason as unknown;
  return r instanceof Error ? r : Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
}

/**
 * Hands each chunk of a body to `onChunk` as node:http emits it. Not `for await`: a stream's async
 * iterator costs a promise and a 'readable' tick per chunk (with the generators over it, about
 * 1.6 s of the 35 s of CPU the operator took to converge 1,000 models: the watches' events and the
 * answers' one or two chunks).
 */
function body(res: http.IncomingMessage, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let ended = false;
    res.on('data', (c: Buffer) => {
      try {
        onChunk(c);
      } catch (err) {
        res.destroy(err as Error);
      }
    });
    res.once('end', () => {
      ended = true;
      resolve();
    });
    // Destroyed (an abort, with its reason; a throw of onChunk), or closed before its end.
    res.once('error', reject);
    res.once('close', () => {
      if (!ended) reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
  });
}

/** A response over a node IncomingMessage. */
function wrap(res: http.IncomingMessage): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    async text() {
      const parts: Buffer[] = [];
      await body(res, (c) => parts.push(c));
      return Buffer.concat(parts).toString('utf8');
    },
    each: (onChunk) => body(res, onChunk),
    cancel: () => res.destroy(),
  };
}

/**
 * The keep-alive agent of one connection: one server, one TLS configuration, so one pool, whose
 * name is the server's. Node's https.Agent names the pool of every request anew from all its TLS
 * options, the CA, certificate and key among them: each request decoded those Buffers to text and
 * concatenated them (5 % of what the operator allocated under load, for a name that never changes).
 */
export class ServerAgent extends https.Agent {
  private readonly poolName: string;
  constructor(server: string, options: https.AgentOptions) {
    super(options);
    this.poolName = server;
  }
  override getName(): string {
    return this.poolName;
  }
}

/**
 * How long a kept-alive socket may sit unused before we close it. The API server closes a
 * connection idle for 90 s (k8s.io/apiserver's secure serving sets Go's IdleTimeout so) and says
 * nothing of it in its answers (no Keep-Alive header, which Node's agent would heed): a request
 * sent on a socket at the moment the server closes it fails with "socket hang up". Closing our
 * side first, at half the server's limit, leaves no such moment.
 */
export const IDLE_SOCKET_MS = 45_000;

/**
 * A request that failed this way was sent on a kept-alive socket the other end closed as it went
 * out (the API server at its idle limit or restarting, or a proxy in front of it at a shorter
 * limit): it is sent again on the next socket of the pool or a new connection. Go's net/http does
 * so for any request when the server closed the reused connection before answering, and for
 * idempotent ones on other errors; here every method is, since every write the operator makes can
 * arrive twice without a second effect: server-side apply and merge patches set values, updates and
 * JSON patches carry the resourceVersion they read (a second one is refused as a conflict or a
 * failed test), creates name their object (Events too: a second one is refused as AlreadyExists),
 * and a second delete finds nothing. Each such try uses up one closed socket, so a server that
 * closed them all costs one try each; a failure on a new connection ends it. Once an answer has
 * begun, a cut is its body's error (Node gives it to the response, not to the request): never sent
 * again.
 */
function closedUnderUs(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

export interface SenderOptions {
  /** IDLE_SOCKET_MS unless given (tests). */
  idleSocketMs?: number;
}

/** Sends over node:https (or node:http for an http:// server) with the connection's TLS and token. */
export function nodeSender(conn: Connection, options: SenderOptions = {}): HttpSender {
  const secure = conn.server.startsWith('https:');
  // `timeout` closes a socket only while it sits in the free pool (Node's agent destroys a free
  // socket whose timeout fires; one in use just emits 'timeout' to its request, which we ignore:
  // a watch may be quiet for minutes).
  const pool = { keepAlive: true, maxSockets: 64, timeout: options.idleSocketMs ?? IDLE_SOCKET_MS };
  const agent = secure
    ? new ServerAgent(conn.server, { ...pool, ...conn.tls, ...(conn.tls.servername ? { servername: conn.tls.servername } : {}) })
    : new nodeHttp.Agent(pool);
  const request = secure ? https.request : nodeHttp.request;
  // The server's place, taken apart once: a URL per request was parsed, then taken apart again.
  const base = new URL(conn.server);
  const where = { protocol: base.protocol, hostname: base.hostname.replace(/^\[(.*)\]$/, '$1'), port: base.port, prefix: base.pathname.replace(/\/+$/, '') };
  const sender: HttpSender = {
    send(req) {
      return new Promise((resolve, reject) => {
        const signal = req.signal;
        if (signal?.aborted) return reject(abortReason(signal));
        const headers = { ...req.headers };
        const auth = conn.authorization?.();
        if (auth) headers['Authorization'] = auth;
        if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
        const r = request({ protocol: where.protocol, hostname: where.hostname, port: where.port, path: where.prefix + req.path, method: req.method, headers, agent }, (res) => {
          signal?.removeEventListener('abort', onAbort);
          // Aborting later (a watch we stop, a timeout mid-body) ends the body stream.
          if (signal) signal.addEventListener('abort', () => res.destroy(abortReason(signal)), { once: true });
          resolve(wrap(res));
        });
        const onAbort = (): void => {
          r.destroy(abortReason(signal as AbortSignal));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        r.on('error', (err) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) return reject(abortReason(signal));
          if (r.reusedSocket && closedUnderUs(err)) {
            req.onResend?.(req.method);
            return void sender.send(req).then(resolve, reject);
          }
          reject(err);
        });
        const fence = req.beforeWrite;
        if (!fence) return void r.end(req.body);
        const write = (): void => {
          const checkedAt = performance.now();
          try {
            fence();
          } catch (err) {
            return void r.destroy(err as Error);
          }
          r.end(req.body);
          req.afterWrite?.(performance.now() - checkedAt);
        };
        // Nothing is written before the socket is connected (for TLS: its handshake done); a
        // kept-alive socket is, at once.
        r.once('socket', (socket) => {
          const tlsPending = secure && (socket as TLSSocket).getProtocol?.() == null;
          if (socket.connecting || tlsPending) socket.once(secure ? 'secureConnect' : 'connect', write);
          else write();
        });
      });
    },
  };
  return sender;
}
