// The `modelship` command (package.json "bin", through modelship.mjs; the image runs
// dist/cli/main.js). Wires runCli to the process: its arguments, streams, environment and exit code.
import { readFileSync } from 'node:fs';
import { connect, runCli } from './commands.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: () => readFileSync(0, 'utf8'),
  env: process.env,
  now: () => new Date(),
  connect,
});
