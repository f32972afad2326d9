// The benchmark's CPU accounting: per process from /proc, per phase, and the table it prints.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { cpuBetween, cpuOf, cpuSeconds, cpuTable } from '../../bench/proc.ts';

describe('bench CPU accounting', () => {
  it('reads what a running process used from /proc, and 0 once it is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 400; while (Date.now() < end);'], { stdio: 'ignore' });
    const pid = child.pid as number;
    const before = cpuOf({ busy: pid });
    await new Promise((r) => setTimeout(r, 300));
    const mid = cpuOf({ busy: pid });
    assert.ok((mid['busy'] ?? 0) - (before['busy'] ?? 0) >= 0.1, `a busy loop used CPU: ${before['busy']} → ${mid['busy']}`);
    assert.ok((mid['benchmark'] ?? 0) > 0, 'and this process is counted as the benchmark');
    await once(child, 'exit');
    assert.equal(cpuSeconds(pid), 0);
  });

  it('takes each process between two readings, a gone one as nothing, and sums them', () => {
    const d = cpuBetween({ 'kube-apiserver': 10, etcd: 2, gone: 5, benchmark: 1 }, { 'kube-apiserver': 85, etcd: 16, gone: 0, benchmark: 4 });
    assert.deepEqual(d, { 'kube-apiserver': 75, etcd: 14, gone: 0, benchmark: 3, all: 92 });
  });

  it('prints both phases, the largest addition first, and the ratio of all', () => {
    const lines = cpuTable({ 'kube-apiserver': 75, etcd: 14, all: 89 }, { 'kube-apiserver': 122, etcd: 20, 'the operator': 15, all: 157 });
    assert.match(lines[0] as string, /floor\s+operator\s+more/);
    assert.match(lines[1] as string, /kube-apiserver\s+75\.0\s+122\.0\s+\+47\.0/);
    assert.match(lines[2] as string, /the operator\s+0\.0\s+15\.0\s+\+15\.0/);
    assert.match(lines[3] as string, /etcd\s+14\.0\s+20\.0\s+\+6\.0/);
    assert.match(lines[4] as string, /all\s+89\.0\s+157\.0\s+1\.76×/);
    assert.equal(lines.length, 5);
  });
});
