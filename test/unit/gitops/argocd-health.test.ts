import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { argoCdConfigMap, configMapPath, gitopsDir, HEALTH_KEY, healthScriptPath } from './argocd-cm.ts';
import { runHealthScript } from './lua.ts';
import { ALWAYS_STALLED } from '../../../operator/src/status/reasons.ts';
import type { HealthStatus } from './lua.ts';

const script = readFileSync(healthScriptPath, 'utf8');
const casesDir = join(dirname(fileURLToPath(import.meta.url)), 'cases');

interface HealthCase {
  name: string;
  expected: HealthStatus;
  obj: Record<string, unknown>;
}

const cases: HealthCase[] = readdirSync(casesDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ name: basename(f, '.yaml'), ...(parse(readFileSync(join(casesDir, f), 'utf8')) as Omit<HealthCase, 'name'>) }));

// The reasons the script treats as terminal, read from its table.
const terminalReasons = [...(/local terminalReasons = \{([^}]*)\}/.exec(script)?.[1] ?? '').matchAll(/(\w+) = true/g)].map((m) => m[1] ?? '');

function withReady(reason: string, status: string): Record<string, unknown> {
  return {
    metadata: { name: 'm', namespace: 'n', generation: 2 },
    status: { observedGeneration: 2, conditions: [{ type: 'Ready', status, reason, message: `Ready is ${status} because ${reason}` }] },
  };
}

describe('Argo CD health check (docs/gitops/argocd-health.lua, under Lua)', () => {
  it('has test cases for Healthy, Degraded, Progressing and Suspended', () => {
    assert.ok(cases.length >= 20, `only ${cases.length} cases`);
    assert.deepEqual([...new Set(cases.map((c) => c.expected.status))].sort(), ['Degraded', 'Healthy', 'Progressing', 'Suspended']);
  });

  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(runHealthScript(script, c.obj), c.expected);
    });
  }

  it('treats exactly the reasons that always need a person as terminal (status/reasons.ts)', () => {
    assert.deepEqual([...terminalReasons].sort(), [...ALWAYS_STALLED].sort());
  });

  for (const reason of terminalReasons) {
    it(`Ready=False ${reason} is Degraded, Ready=Unknown ${reason} is Progressing`, () => {
      assert.equal(runHealthScript(script, withReady(reason, 'False')).status, 'Degraded');
      assert.equal(runHealthScript(script, withReady(reason, 'Unknown')).status, 'Progressing');
    });
  }

  for (const reason of ['Creating', 'RollingOut', 'ScalingUp', 'ApplyFailed', 'Unschedulable', 'ImagePullFailed', 'NotReady', 'CrashLoop', 'ModelFetchFailed', 'Unknown']) {
    it(`Ready=False ${reason} is Progressing (the operator is still working on it)`, () => {
      assert.equal(runHealthScript(script, withReady(reason, 'False')).status, 'Progressing');
    });
  }

  it('lists every terminal reason in its header comment and in the README', () => {
    const readme = readFileSync(join(gitopsDir, 'README.md'), 'utf8');
    for (const reason of terminalReasons) {
      assert.match(script, new RegExp(`^--\\s+${reason}\\s`, 'm'), `the header comment does not explain ${reason}`);
      assert.ok(readme.includes(`\`${reason}\``), `README.md does not mention ${reason}`);
    }
  });

  it('uses only Lua 5.1, which gopher-lua in Argo CD runs', () => {
    const code = script
      .split('\n')
      .map((l) => l.replace(/--.*$/, '').replace(/"(?:[^"\\]|\\.)*"/g, '""'))
      .join('\n');
    for (const [what, re] of [
      ['goto', /\bgoto\b/],
      ['integer division //', /\/\//],
      ['bitwise operators', /[&|]|<<|>>|~(?!=)/],
      ['5.2+ library functions', /\b(table\.unpack|table\.pack|utf8\.|string\.pack|string\.unpack|math\.tointeger|math\.type)\b/],
      ['io and os', /\b(io|os)\./],
    ] as const) {
      assert.doesNotMatch(code, re, `the script uses ${what}`);
    }
  });
});

describe('docs/gitops/argocd-cm.yaml', () => {
  it('is generated from argocd-health.lua (regenerate: node test/unit/gitops/argocd-cm.ts)', () => {
    assert.equal(readFileSync(configMapPath, 'utf8'), argoCdConfigMap(script));
  });

  it('holds the script, byte for byte, under the health key Argo CD reads', () => {
    const cm = parse(readFileSync(configMapPath, 'utf8')) as { kind: string; metadata: { name: string }; data: Record<string, string> };
    assert.equal(cm.kind, 'ConfigMap');
    assert.equal(cm.metadata.name, 'argocd-cm');
    assert.deepEqual(Object.keys(cm.data), [HEALTH_KEY]);
    assert.equal(cm.data[HEALTH_KEY], script);
  });

  it('argoCdConfigMap refuses a script whose trailing newlines a literal block would change', () => {
    assert.throws(() => argoCdConfigMap('return {}'), /exactly one newline/);
    assert.throws(() => argoCdConfigMap('return {}\n\n'), /exactly one newline/);
  });
});

describe('the Lua runner (lua.ts)', () => {
  it('hands JSON to Lua as tables, with 1-based arrays and integers that print without ".0"', () => {
    const probe = 'return { status = obj.a[2].b .. "/" .. tostring(obj.n) .. "/" .. tostring(#obj.a), message = string.format("%d", obj.n) }\n';
    assert.deepEqual(runHealthScript(probe, { a: [{ b: 'x' }, { b: 'y' }], n: 7 }), { status: 'y/7/2', message: '7' });
  });

  it('reports a runtime error with Lua\'s message', () => {
    assert.throws(() => runHealthScript('return obj.missing.field\n', {}), /The Lua script failed: .*attempt to index/);
  });

  it('refuses a result that is not exactly {status, message}', () => {
    assert.throws(() => runHealthScript('return { status = "Healthy" }\n', {}), /exactly \{status, message\}/);
    assert.throws(() => runHealthScript('return { status = "Healthy", message = "", extra = 1 }\n', {}), /exactly \{status, message\}/);
    assert.throws(() => runHealthScript('return "Healthy"\n', {}), /instead of a table/);
  });

  it('opens no io or os library, like Argo CD\'s sandbox', () => {
    assert.deepEqual(runHealthScript('return { status = type(io), message = type(os) }\n', {}), { status: 'nil', message: 'nil' });
  });
});
