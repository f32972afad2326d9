#!/usr/bin/env node
// `modelship`, and `kubectl modelship` when linked as kubectl-modelship on PATH (package.json
// "bin"). Plain JavaScript, so that an older `node` first on PATH can start it: the command itself
// is TypeScript (main.ts), which needs Node.js 22.18 or newer; on an older one this re-runs it with
// the project's Node 24 (node_modules/.bin/node, from the `node` devDependency).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Node resolves the symlinks npm makes for a bin, so this is the file in the project.
const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, 'main.ts');

if (process.features.typescript) {
  await import(pathToFileURL(main).href);
} else {
  const node = join(here, '..', '..', '..', 'node_modules', '.bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`modelship needs Node.js 22.18 or newer, and this is ${process.version}: install Node.js 24, or run npm ci in ${join(here, '..', '..', '..')} (it brings Node 24).\n`);
    process.exit(2);
  }
  const child = spawn(node, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
