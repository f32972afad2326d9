// What the container image runs the operator with, read from the Dockerfile, so the benchmark runs
// the same: the NODE_OPTIONS of its ENV line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../integration/harness.ts';

export function imageNodeOptions(dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')): string {
  const m = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile);
  if (!m) throw new Error('The Dockerfile sets no NODE_OPTIONS (ENV NODE_OPTIONS="...")');
  return m[1] as string;
}

export const IMAGE_NODE_OPTIONS = imageNodeOptions();
