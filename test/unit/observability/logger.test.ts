import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, keyFields, objectFields, redact, REDACTED } from '../../../operator/src/observability/logger.ts';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('logger', () => {
  it('writes one JSON object a line with the object fields', async () => {
    const out = capture();
    const log = createLogger('info', { stream: out.stream });
    log.info('Created Deployment', objectFields({ kind: 'Deployment', metadata: { namespace: 'risk', name: 'fraud' } }));
    log.info('Reconciled', keyFields('risk/fraud', 'ModelDeployment'));
    await flush();
    const lines = out.lines();
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { ...lines[0], timestamp: undefined },
      { level: 'info', message: 'Created Deployment', kind: 'Deployment', namespace: 'risk', name: 'fraud', timestamp: undefined },
    );
    assert.equal(lines[1]?.namespace, 'risk');
    assert.equal(lines[1]?.name, 'fraud');
    assert.equal(lines[1]?.kind, 'ModelDeployment');
    assert.equal(typeof lines[0]?.timestamp, 'string');
  });

  const levels: Array<{ level: 'error' | 'warn' | 'info' | 'debug'; shown: string[] }> = [
    { level: 'error', shown: ['error'] },
    { level: 'warn', shown: ['error', 'warn'] },
    { level: 'info', shown: ['error', 'warn', 'info'] },
    { level: 'debug', shown: ['error', 'warn', 'info', 'debug'] },
  ];
  for (const tc of levels) {
    it(`level ${tc.level} shows ${tc.shown.join(', ')}`, async () => {
      const out = capture();
      const log = createLogger(tc.level, { stream: out.stream });
      log.error('E');
      log.warn('W');
      log.info('I');
      log.debug('D');
      await flush();
      assert.deepEqual(out.lines().map((l) => l.level), tc.shown);
    });
  }

  it('builds nothing of a line below its level (winston would format it, then drop it)', async () => {
    const out = capture();
    const log = createLogger('info', { stream: out.stream });
    let read = 0;
    const fields = { get generation() { read++; return 1; }, name: 'fraud' };
    log.debug('Updated the status', fields);
    log.debug('Updated the status', fields);
    await flush();
    assert.equal(out.lines().length, 0);
    assert.equal(read, 0, `a dropped line's fields were read ${read} times`);
    // Called detached, and at its level, a method still writes.
    const { info } = log;
    info('Reconciled', fields);
    await flush();
    assert.deepEqual(out.lines().map((l) => [l.message, l.generation]), [['Reconciled', 1]]);
  });

  it('never writes a secret value', async () => {
    const out = capture();
    const log = createLogger('info', { stream: out.stream });
    log.info('Applied', {
      token: 'sekrit-1',
      headers: { Authorization: 'Bearer sekrit-2' },
      object: { kind: 'Secret', metadata: { name: 's3-creds' }, data: { AWS_SECRET_ACCESS_KEY: 'c2Vrcml0LTM=' }, stringData: { password: 'sekrit-4' } },
      credentialsSecret: 's3-creds',
    });
    log.error('Failed', { err: new Error('boom'), apiKey: 'sekrit-5' });
    await flush();
    const text = JSON.stringify(out.lines());
    for (const s of ['sekrit-1', 'sekrit-2', 'c2Vrcml0LTM=', 'sekrit-4', 'sekrit-5']) assert.ok(!text.includes(s), `${s} leaked: ${text}`);
    assert.ok(text.includes('s3-creds'), 'names of secrets stay visible');
    assert.ok(text.includes('boom'), 'errors keep their message');
  });
});

describe('redact', () => {
  const cases: Array<{ name: string; input: unknown; want: unknown }> = [
    { name: 'plain values pass', input: { a: 1, b: 'x' }, want: { a: 1, b: 'x' } },
    { name: 'password', input: { password: 'p' }, want: { password: REDACTED } },
    { name: 'nested token', input: { auth: { token: 't' } }, want: { auth: { token: REDACTED } } },
    { name: 'secret data keys kept, values hidden', input: { kind: 'Secret', data: { k: 'v' } }, want: { kind: 'Secret', data: { k: REDACTED } } },
    { name: 'secret references kept', input: { secretName: 'n', credentialsSecret: 'c' }, want: { secretName: 'n', credentialsSecret: 'c' } },
    { name: 'arrays', input: [{ token: 'a' }], want: [{ token: REDACTED }] },
  ];
  for (const tc of cases) {
    it(tc.name, () => assert.deepEqual(redact(tc.input), tc.want));
  }
  it('handles cycles', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    assert.deepEqual(redact(a), { x: 1, self: '[Circular]' });
  });
});
