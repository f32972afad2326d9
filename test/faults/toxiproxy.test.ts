// The fault tests' TCP proxy itself: it forwards, it stops, and a start that fails leaves no process
// (one left running kept its test file's process alive until CI's deadline).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { freePort, listenLocal } from '../cluster/ports.ts';
import { bin } from '../integration/harness.ts';
import { Toxiproxy } from './toxiproxy.ts';

/** The toxiproxy processes running now. */
function toxiproxyPids(): number[] {
  const exe = bin('toxiproxy');
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0] === exe;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** Sends a line through 127.0.0.1:`port` and returns the line that comes back. */
function roundTrip(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`${line}\n`));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString();
      if (got.endsWith('\n')) {
        sock.destroy();
        resolve(got.slice(0, -1));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
  });
}

describe("toxiproxy, the fault tests' TCP proxy", () => {
  // An upstream that answers each line it is sent, upper-cased.
  const upstream = createServer((s) => {
    let got = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      got += d.toString();
      if (got.endsWith('\n')) s.write(got.toUpperCase());
    });
  });
  after(() => upstream.close());

  it('forwards to its upstream, and leaves no process once stopped', async (t) => {
    const port = await listenLocal(upstream);
    const before = toxiproxyPids();
    const toxi = await Toxiproxy.start(`127.0.0.1:${port}`);
    // Stopped even when an assertion below fails (stop() is a no-op once it has run).
    t.after(() => toxi.stop());
    assert.ok(toxi.pid !== undefined && toxiproxyPids().includes(toxi.pid));
    assert.equal(await roundTrip(toxi.listenPort, 'through the proxy'), 'THROUGH THE PROXY');
    await toxi.stop();
    assert.equal(toxi.pid, undefined);
    assert.deepEqual(toxiproxyPids(), before);
  });

  it('on a port it cannot take: fails saying why, and leaves no process behind', async () => {
    const holder = createServer();
    const taken = await listenLocal(holder, await freePort());
    try {
      const before = toxiproxyPids();
      await assert.rejects(Toxiproxy.start('127.0.0.1:1', taken), /toxiproxy POST \/proxies: 500 .*address already in use/);
      assert.deepEqual(toxiproxyPids(), before);
    } finally {
      holder.close();
    }
  });
});
