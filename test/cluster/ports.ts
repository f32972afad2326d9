// Ports for the servers the tests, the benchmark and the demo start on 127.0.0.1 (the control
// plane's components, operators' probes, toxiproxy).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** The range the kernel takes the local ports of outgoing connections from (and port 0's). */
export function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    // not Linux: its default
  }
  return [32768, 60999];
}

/** Whether a server can listen on 127.0.0.1:`port` now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// The ports this process has handed out, so that calls made together (Promise.all) never get the same one.
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that nothing listens on now, taken outside the kernel's ephemeral range.
 * A port the kernel picks (listening on port 0, then closing) is free only until the kernel gives
 * it to an outgoing connection as its local port, and while that connection lives nothing can
 * listen on it: the server started on it later fails with EADDRINUSE (CI saw toxiproxy's "bind:
 * address already in use" in the middle of the fault tests, which open thousands of connections).
 * Below the range (10000 to 32767 with Linux's default) no outgoing connection takes it.
 */
export async function freePort(random: () => number = Math.random): Promise<number> {
  const [from, to] = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(random() * (to - from + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${from} and ${to} in 200 tries`);
}

/** Where freePort takes its ports: below the ephemeral range if there is room, else above it. */
export function portRange(): [number, number] {
  const [lo, hi] = ephemeralRange();
  const [from, to] = lo - 1 - 10_000 >= 1_000 ? [10_000, lo - 1] : [hi + 1, 65_535];
  if (to - from < 1_000) throw new Error(`no room for test ports outside the ephemeral range ${lo}-${hi}`);
  return [from, to];
}

/** Listens on 127.0.0.1 (on `port`, or one the kernel picks); the port it listens on. */
export function listenLocal(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}
