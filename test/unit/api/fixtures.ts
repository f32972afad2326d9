// Builders for ModelDeployments in tests (shared by the api, runtimes and render tests).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { ModelDeployment, ModelDeploymentSpec } from '../../../operator/src/api/types.ts';
import type { FieldError } from '../../../operator/src/api/validate.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export function mdep(spec: Partial<ModelDeploymentSpec>, name = 'demo', namespace = 'ml'): ModelDeployment {
  return {
    apiVersion: 'serving.modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace, uid: `uid-${name}`, generation: 1 },
    spec: { model: { uri: 's3://acme-models/iris/v1', format: 'sklearn' }, ...spec },
  };
}

export interface Example {
  file: string;
  name: string;
  object: unknown;
}

export function loadExamples(): Example[] {
  const dir = join(repoRoot, 'examples');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file, name: file.replace(/\.yaml$/, ''), object: parse(readFileSync(join(dir, file), 'utf8')) as unknown }));
}

/** One case of test/unit/api/invalid: an invalid ModelDeployment and what must happen to it (see its README). */
export interface InvalidCase {
  description: string;
  errors: FieldError[];
  apiServer: { refuses: boolean; messages?: string[] };
  object: Record<string, unknown> & { metadata: { name: string } };
}

export const INVALID_DIR = join(repoRoot, 'test/unit/api/invalid');

export function loadInvalidCorpus(): { file: string; c: InvalidCase }[] {
  return readdirSync(INVALID_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file, c: parse(readFileSync(join(INVALID_DIR, file), 'utf8')) as InvalidCase }));
}
