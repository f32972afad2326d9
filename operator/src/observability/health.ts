// HTTP endpoints: /healthz and /readyz on the probe address, /metrics on the metrics address.
// Readiness means "the caches have synced"; it does not depend on leadership, so a standby
// replica is ready too (as with controller-runtime).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { BindAddress } from '../config.ts';
import { nodeHttp } from '../kube/node-http.ts';

export type Check = () => boolean;

/** Named checks; the endpoint passes when every check passes. */
export class Checks {
  private readonly checks = new Map<string, Check>();

  add(name: string, check: Check): void {
    this.checks.set(name, check);
  }

  /** Names of the failing checks (a throwing check fails). */
  failing(): string[] {
    const bad: string[] = [];
    for (const [name, check] of this.checks) {
      let ok = false;
      try {
        ok = check();
      } catch {
        ok = false;
      }
      if (!ok) bad.push(name);
    }
    return bad;
  }
}

export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  host: string;
  port: number;
  close(): Promise<void>;
}

function listen(server: Server, addr: BindAddress): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = (): void => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    };
    if (addr.host === '') server.listen(addr.port, onListening);
    else server.listen(addr.port, addr.host, onListening);
  });
}

function respondChecks(res: ServerResponse, checks: Checks, verbose: boolean): void {
  const bad = checks.failing();
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (bad.length === 0) {
    res.statusCode = 200;
    res.end(verbose ? 'ok: all checks passed\n' : 'ok');
  } else {
    res.statusCode = 500;
    res.end(`failed: ${bad.join(', ')}\n`);
  }
}

function path(req: IncomingMessage): { path: string; verbose: boolean } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return { path: url.pathname.replace(/\/+$/, '') || '/', verbose: url.searchParams.has('verbose') };
}

/** Serves /healthz (liveness) and /readyz (readiness). */
export function startHealthServer(addr: BindAddress, liveness: Checks, readiness: Checks): Promise<RunningServer> {
  const server = nodeHttp.createServer((req, res) => {
    const p = path(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.end();
      return;
    }
    if (p.path === '/healthz' || p.path === '/livez') respondChecks(res, liveness, p.verbose);
    else if (p.path === '/readyz') respondChecks(res, readiness, p.verbose);
    else {
      res.statusCode = 404;
      res.end('not found\n');
    }
  });
  return listen(server, addr);
}

/** Serves /metrics from the registry in the Prometheus text format. */
export function startMetricsServer(addr: BindAddress, registry: Registry): Promise<RunningServer> {
  const server = nodeHttp.createServer((req, res) => {
    const p = path(req);
    if (p.path !== '/metrics') {
      res.statusCode = 404;
      res.end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', registry.contentType);
        res.end(text);
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(`Metrics collection failed: ${(err as Error).message}\n`);
      },
    );
  });
  return listen(server, addr);
}
