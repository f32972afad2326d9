import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseBindAddress, parseConfig, VERSION, wantsVersion } from '../../../operator/src/config.ts';

describe('parseConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    assert.deepEqual(parseConfig([], {}), {
      logLevel: 'info',
      concurrency: 4,
      watchNamespaces: [],
      leaderElect: true,
      leaderElectionNamespace: 'default',
      leaderElectionId: 'modelship-operator',
      metricsBindAddress: { host: '', port: 8080 },
      healthProbeBindAddress: { host: '', port: 8081 },
      runtimeImages: {},
      fetcherImage: undefined,
      clusterDomain: 'cluster.local',
      shutdownTimeoutSeconds: 30,
      watchInactivityTimeoutSeconds: 150,
    });
  });

  const accepted: Array<{ name: string; argv: string[]; env?: Record<string, string>; want: Record<string, unknown> }> = [
    { name: 'log level from a flag', argv: ['--log-level=debug'], want: { logLevel: 'debug' } },
    { name: 'log level from env', argv: [], env: { MODELSHIP_LOG_LEVEL: 'warn' }, want: { logLevel: 'warn' } },
    { name: 'flag wins over env', argv: ['--log-level', 'error'], env: { MODELSHIP_LOG_LEVEL: 'debug' }, want: { logLevel: 'error' } },
    { name: 'concurrency', argv: ['--concurrency=16'], want: { concurrency: 16 } },
    { name: 'concurrency bounds', argv: ['--concurrency=100'], want: { concurrency: 100 } },
    { name: 'concurrency from env', argv: [], env: { MODELSHIP_CONCURRENCY: '1' }, want: { concurrency: 1 } },
    { name: 'namespaces list', argv: ['--watch-namespaces=a, b,,a'], want: { watchNamespaces: ['a', 'b'] } },
    { name: 'namespaces from env', argv: [], env: { MODELSHIP_WATCH_NAMESPACES: 'team-x' }, want: { watchNamespaces: ['team-x'] } },
    { name: 'bare boolean flag', argv: ['--leader-elect'], env: { MODELSHIP_LEADER_ELECT: 'false' }, want: { leaderElect: true } },
    { name: 'boolean flag off', argv: ['--leader-elect=false'], want: { leaderElect: false } },
    { name: 'boolean env off', argv: [], env: { MODELSHIP_LEADER_ELECT: 'false' }, want: { leaderElect: false } },
    { name: 'lease namespace from POD_NAMESPACE', argv: [], env: { POD_NAMESPACE: 'ops' }, want: { leaderElectionNamespace: 'ops' } },
    { name: 'MODELSHIP_NAMESPACE wins over POD_NAMESPACE', argv: [], env: { POD_NAMESPACE: 'ops', MODELSHIP_NAMESPACE: 'ms' }, want: { leaderElectionNamespace: 'ms' } },
    { name: 'lease id', argv: ['--leader-election-id=my.lease'], want: { leaderElectionId: 'my.lease' } },
    { name: 'metrics address', argv: ['--metrics-bind-address=127.0.0.1:9090'], want: { metricsBindAddress: { host: '127.0.0.1', port: 9090 } } },
    { name: 'metrics disabled', argv: ['--metrics-bind-address=0'], want: { metricsBindAddress: null } },
    { name: 'health address IPv6', argv: ['--health-probe-bind-address=[::1]:8081'], want: { healthProbeBindAddress: { host: '::1', port: 8081 } } },
    {
      name: 'repeatable runtime images',
      argv: ['--runtime-image=sklearn=reg/sk:1', '--runtime-image', 'xgboost=reg/xgb:2'],
      env: { MODELSHIP_RUNTIME_IMAGES: 'onnx=reg/onnx:1' },
      want: { runtimeImages: { sklearn: 'reg/sk:1', xgboost: 'reg/xgb:2' } },
    },
    { name: 'runtime images from env', argv: [], env: { MODELSHIP_RUNTIME_IMAGES: 'onnx=reg/onnx:1, triton=reg/t:2' }, want: { runtimeImages: { onnx: 'reg/onnx:1', triton: 'reg/t:2' } } },
    { name: 'fetcher image', argv: ['--model-fetcher-image=reg/fetch:1'], want: { fetcherImage: 'reg/fetch:1' } },
    { name: 'cluster domain trailing dot', argv: ['--cluster-domain=corp.local.'], want: { clusterDomain: 'corp.local' } },
    { name: 'shutdown timeout', argv: ['--shutdown-timeout-seconds=5'], want: { shutdownTimeoutSeconds: 5 } },
    { name: 'watch inactivity timeout', argv: ['--watch-inactivity-timeout-seconds=10'], want: { watchInactivityTimeoutSeconds: 10 } },
    { name: 'watch inactivity timeout from env', argv: [], env: { MODELSHIP_WATCH_INACTIVITY_TIMEOUT_SECONDS: '20' }, want: { watchInactivityTimeoutSeconds: 20 } },
    { name: '--version is left to main', argv: ['--version'], want: {} },
  ];
  for (const tc of accepted) {
    it(`accepts ${tc.name}`, () => {
      const got = parseConfig(tc.argv, tc.env ?? {}) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(tc.want)) assert.deepEqual(got[k], v, k);
    });
  }

  const rejected: Array<{ name: string; argv: string[]; env?: Record<string, string>; flag: string; mentions: string[] }> = [
    { name: 'an unknown log level', argv: ['--log-level=trace'], flag: '--log-level', mentions: ['trace', 'error, warn, info, debug'] },
    { name: 'a bad log level in env', argv: [], env: { MODELSHIP_LOG_LEVEL: 'loud' }, flag: '--log-level', mentions: ['MODELSHIP_LOG_LEVEL', 'loud'] },
    { name: 'concurrency 0', argv: ['--concurrency=0'], flag: '--concurrency', mentions: ['1 to 100'] },
    { name: 'concurrency 101', argv: ['--concurrency=101'], flag: '--concurrency', mentions: ['1 to 100'] },
    { name: 'fractional concurrency', argv: ['--concurrency=2.5'], flag: '--concurrency', mentions: ['whole number'] },
    { name: 'text concurrency in env', argv: [], env: { MODELSHIP_CONCURRENCY: 'many' }, flag: '--concurrency', mentions: ['MODELSHIP_CONCURRENCY'] },
    { name: 'a bad namespace', argv: ['--watch-namespaces=ok,Not_OK'], flag: '--watch-namespaces', mentions: ['Not_OK'] },
    { name: 'a bad boolean', argv: ['--leader-elect=maybe'], flag: '--leader-elect', mentions: ['true or false'] },
    { name: 'a bad bind address', argv: ['--metrics-bind-address=8080'], flag: '--metrics-bind-address', mentions: [':PORT'] },
    { name: 'a port too high', argv: ['--health-probe-bind-address=:70000'], flag: '--health-probe-bind-address', mentions: ['65535'] },
    { name: 'a runtime image without a name', argv: ['--runtime-image=reg/img:1'], flag: '--runtime-image', mentions: ['NAME=IMAGE'] },
    { name: 'a runtime image in env without an image', argv: [], env: { MODELSHIP_RUNTIME_IMAGES: 'sklearn=' }, flag: '--runtime-image', mentions: ['MODELSHIP_RUNTIME_IMAGES'] },
    { name: 'an unknown flag', argv: ['--concurrence=3'], flag: '--concurrence', mentions: ['Unknown flag'] },
    { name: 'a flag without its value', argv: ['--concurrency'], flag: '--concurrency', mentions: ['needs a value'] },
    { name: 'a positional argument', argv: ['run'], flag: 'run', mentions: ['Unexpected argument'] },
    { name: 'a flag given twice', argv: ['--concurrency=2', '--concurrency=3'], flag: '--concurrency', mentions: ['once'] },
    { name: 'a zero watch inactivity timeout', argv: ['--watch-inactivity-timeout-seconds=0'], flag: '--watch-inactivity-timeout-seconds', mentions: ['1 to 3600'] },
    { name: 'a zero shutdown timeout', argv: ['--shutdown-timeout-seconds=0'], flag: '--shutdown-timeout-seconds', mentions: ['1 to 3600'] },
    { name: 'a bad lease id', argv: ['--leader-election-id=Bad_Id'], flag: '--leader-election-id', mentions: ['object name'] },
  ];
  for (const tc of rejected) {
    it(`rejects ${tc.name}, naming the flag`, () => {
      assert.throws(
        () => parseConfig(tc.argv, tc.env ?? {}),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.flag, tc.flag);
          assert.ok(err.message.includes(tc.flag), err.message);
          for (const m of tc.mentions) assert.ok(err.message.includes(m), `${err.message} should mention ${m}`);
          return true;
        },
      );
    });
  }
});

describe('parseBindAddress', () => {
  it('parses the forms controller-runtime accepts', () => {
    assert.deepEqual(parseBindAddress(':8080'), { host: '', port: 8080 });
    assert.deepEqual(parseBindAddress('0.0.0.0:1'), { host: '0.0.0.0', port: 1 });
    assert.deepEqual(parseBindAddress('localhost:0'), { host: 'localhost', port: 0 });
  });
});

describe('version', () => {
  it('comes from package.json', () => {
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    assert.equal(wantsVersion(['--version']), true);
    assert.equal(wantsVersion([]), false);
  });
});
