// Builders for ModelDeployments in tests (shared by the api, runtimes and render tests).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { ModelDeployment, ModelDeploymentSpec } from '../../../operator/src/api/types.ts';

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
