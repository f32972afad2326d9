// Every npm script that runs the project's code starts here, so that `npm test` and `npm run demo`
// work as the first commands on a fresh clone: when node_modules is missing or no longer matches
// package-lock.json, it runs `npm ci` with the machine's own npm, then runs the script with the
// project's Node 24 (the `node` devDependency).
//
//   node scripts/install-first.mjs SCRIPT [ARGS...]   install if needed, then node_modules/.bin/node SCRIPT ARGS
//   node scripts/install-first.mjs --check            say whether an install is needed (exit 0: no, 1: yes)
//
// Plain JavaScript on purpose: on a fresh machine `node` may be Node 20, which cannot run TypeScript.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const projectNode = join(root, 'node_modules', '.bin', 'node');

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Why node_modules must be installed, or undefined when it matches package-lock.json. npm writes
 * node_modules/.package-lock.json after every install with one entry per installed package, the
 * same entries as package-lock.json's (less the root), so comparing the two is npm's own record
 * of what is installed against what the lock asks for.
 */
function installReason(dir) {
  const lock = readJson(join(dir, 'package-lock.json'));
  if (lock === undefined) return 'package-lock.json is missing or unreadable';
  if (!existsSync(join(dir, 'node_modules'))) return 'node_modules is missing';
  const installed = readJson(join(dir, 'node_modules', '.package-lock.json'));
  if (installed === undefined) return 'node_modules has no record of what npm installed';
  const wanted = { ...lock.packages };
  delete wanted[''];
  if (!isDeepStrictEqual(installed.packages ?? {}, wanted)) return 'node_modules does not match package-lock.json';
  if (!existsSync(join(dir, 'node_modules', '.bin', 'node'))) return 'the project\'s Node.js (node_modules/.bin/node) is missing';
  return undefined;
}

/** npm as the machine has it: the one running this script when npm started us, else npm on PATH. */
function npmCommand() {
  const cli = process.env.npm_execpath;
  if (cli && /\.[cm]?js$/.test(cli)) return { cmd: process.execPath, args: [cli] };
  return { cmd: process.platform === 'win32' ? 'npm.cmd' : 'npm', args: [] };
}

function install(reason) {
  process.stderr.write(`==> Installing the dependencies with npm ci (${reason})\n`);
  const npm = npmCommand();
  const r = spawnSync(npm.cmd, [...npm.args, 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`Installing the dependencies failed (npm ci exited ${r.status ?? r.signal}): fix the error above, then run the command again.\n`);
    process.exit(r.status || 1);
  }
  const still = installReason(root);
  if (still !== undefined) {
    process.stderr.write(`npm ci finished but ${still}: run npm ci in ${root} and read its output.\n`);
    process.exit(1);
  }
}

function run(script, args) {
  const child = spawn(projectNode, [script, ...args], { cwd: process.cwd(), stdio: 'inherit' });
  // Pass signals on (npm and a terminal may send them to us only); the script decides how to stop.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

const [first, ...rest] = process.argv.slice(2);
if (first === '--check') {
  const reason = installReason(root);
  process.stdout.write(reason === undefined ? 'node_modules matches package-lock.json\n' : `npm ci is needed: ${reason}\n`);
  process.exit(reason === undefined ? 0 : 1);
} else if (first === undefined) {
  process.stderr.write('Usage: node scripts/install-first.mjs SCRIPT [ARGS...] | --check\n');
  process.exit(2);
} else {
  const reason = installReason(root);
  if (reason !== undefined) install(reason);
  run(first, rest);
}
