import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { canListen, ephemeralRange, freePort, portRange } from '../../cluster/ports.ts';

function listening(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) => s.on('error', () => {}));
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

function portOf(srv: Server): number {
  const addr = srv.address();
  assert.ok(addr && typeof addr === 'object');
  return addr.port;
}

describe('freePort', () => {
  it('why: a port an outgoing connection holds takes no listener, and the kernel takes those ports from the ephemeral range', async () => {
    const srv = await listening();
    const sock: Socket = await new Promise((resolve, reject) => {
      const s = connect(portOf(srv), '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    try {
      const held = sock.localPort as number;
      const [lo, hi] = ephemeralRange();
      assert.ok(held >= lo && held <= hi, `local port ${held} within ${lo}-${hi}`);
      assert.equal(await canListen(held), false);
    } finally {
      sock.destroy();
      srv.close();
    }
  });

  it('gives distinct ports outside the ephemeral range that a server can listen on', async () => {
    const [lo, hi] = ephemeralRange();
    const ports = await Promise.all(Array.from({ length: 50 }, freePort));
    assert.equal(new Set(ports).size, ports.length);
    for (const p of ports) {
      assert.ok(p < lo || p > hi, `${p} is outside ${lo}-${hi}`);
      assert.ok(p >= 1024 && p <= 65_535);
    }
    const servers = await Promise.all(ports.slice(0, 10).map((p) => listening(p)));
    for (const [i, srv] of servers.entries()) assert.equal(portOf(srv), ports[i]);
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('never gives a port something listens on, nor one it gave before', async () => {
    const [from, to] = portRange();
    const at = (port: number) => (port - from + 0.5) / (to - from + 1);
    // A server on a port of the range that freePort did not give (so only the listen check can skip it).
    let taken: Server | undefined;
    while (!taken) taken = await listening(from + Math.floor(Math.random() * (to - from + 1))).catch(() => undefined);
    const given = await freePort();
    try {
      // The first draws fall on the port a server holds, then on the one given before, then on a third.
      const draws = [at(portOf(taken)), at(given)];
      const third = await freePort(() => draws.shift() ?? Math.random());
      assert.equal(draws.length, 0, 'both ports were drawn');
      assert.notEqual(third, portOf(taken));
      assert.notEqual(third, given);
      assert.ok(third >= from && third <= to);
    } finally {
      taken.close();
    }
  });
});
