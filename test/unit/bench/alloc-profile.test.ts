// The benchmark's allocation profile (`--alloc-profile`): preloaded into a process, it records
// what the process allocated, freed objects included, and the summary names where.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ALLOC_PROFILE_ENV, allocProfileFile, summarizeAllocations } from '../../bench/alloc-profile.ts';
import { repoRoot } from '../../integration/harness.ts';

describe('alloc-profile', () => {
  it('writes at exit what the process allocated, garbage included, and the summary names where', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-alloc-'));
    try {
      // About 64 MiB of short-lived strings from one function, none of it alive at exit.
      const script = 'function churn() { let kept = 0; for (let i = 0; i < 2e5; i++) kept += ("x".repeat(300) + i).length; return kept; } churn(); console.log(process.pid);';
      const pid = Number(execFileSync(process.execPath, [`--import=${join(repoRoot, 'test/bench/alloc-profile.ts')}`, '-e', script], { env: { ...process.env, [ALLOC_PROFILE_ENV]: dir }, encoding: 'utf8' }).trim());
      assert.deepEqual(readdirSync(dir), [`alloc-${pid}.heapprofile`]);
      const summary = summarizeAllocations(allocProfileFile(dir, pid), 5);
      assert.ok(summary.totalBytes > 32 * 1048576, `sampled ${summary.totalBytes} bytes: freed objects must count`);
      // The strings churn() builds: String.prototype.repeat's, then its own concatenations.
      assert.deepEqual(summary.top.slice(0, 2).map((t) => t.where.split(' ')[0]), ['repeat', 'churn']);
      assert.ok((summary.top[0]?.bytes ?? 0) > 32 * 1048576);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does nothing without its directory in the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-alloc-'));
    try {
      const env = { ...process.env };
      delete env[ALLOC_PROFILE_ENV];
      execFileSync(process.execPath, [`--import=${join(repoRoot, 'test/bench/alloc-profile.ts')}`, '-e', '1'], { env, cwd: dir });
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
