// Reading the chart's files from the tests, and pulling out the parts of template text that are
// plain YAML (helm renders the rest; those tests need the helm binaries and live in integration).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const chartDir = join(repoRoot, 'charts', 'modelship');

export function readChartFile(relative: string): string {
  return readFileSync(join(chartDir, relative), 'utf8');
}

/** The body of `{{- define "NAME" -}} ... {{- end }}` in a template file. */
export function defineBody(templateText: string, name: string): string {
  const start = templateText.indexOf(`{{- define "${name}" -}}`);
  if (start === -1) throw new Error(`The template "${name}" is not defined.`);
  const bodyStart = templateText.indexOf('}}', start) + 2;
  const end = templateText.indexOf('{{- end }}', bodyStart);
  if (end === -1) throw new Error(`The template "${name}" has no {{- end }}.`);
  return templateText.slice(bodyStart, end);
}

/** Template text without template comments ({{/* ... *\/}}) and YAML comment lines. */
export function withoutComments(templateText: string): string {
  return templateText
    .replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
}
