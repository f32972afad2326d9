// Finding the ModelDeployments in YAML files: multi-document files, directories, standard input,
// and kubectl's List; every other kind is skipped. Each object keeps where it came from, so that
// an error can name the file and the line of the field it is about.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { GROUP, KIND } from '../api/schema.ts';

export const STDIN = '-';

/** A YAML text and the name it is reported under (a path as given, or "<stdin>"). */
export interface Source {
  file: string;
  text: string;
}

/** A ModelDeployment found in a source. */
export interface Found {
  file: string;
  object: Record<string, unknown>;
  /** Line (1-based) of the object's first line. */
  line: number;
  /** Line of a field such as `spec.runtime.env[0].name`, or of its nearest ancestor in the file. */
  lineOf(field: string): number;
}

/** Something that is not a ModelDeployment problem: an unreadable file, a YAML syntax error. */
export interface ReadProblem {
  file: string;
  line: number;
  message: string;
}

const YAML_FILE = /\.(ya?ml|json)$/;

/** The files an argument names: itself, or the YAML and JSON files under a directory, sorted. */
export function filesOf(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && e.name !== 'node_modules')
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? filesOf(join(path, e.name)) : YAML_FILE.test(e.name) ? [join(path, e.name)] : []));
}

/** Reads the arguments (files, directories, "-" for standard input) into sources. */
export function readSources(args: readonly string[], readStdin: () => string): { sources: Source[]; problems: ReadProblem[] } {
  const sources: Source[] = [];
  const problems: ReadProblem[] = [];
  for (const arg of args) {
    if (arg === STDIN) {
      sources.push({ file: '<stdin>', text: readStdin() });
      continue;
    }
    try {
      for (const file of filesOf(arg)) sources.push({ file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push({ file: arg, line: 0, message: code === 'ENOENT' ? 'No such file or directory' : `Cannot read it: ${(err as Error).message}` });
    }
  }
  return { sources, problems };
}

function isModelDeployment(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  // Any version of our group: a wrong version is then reported on apiVersion, not skipped silently.
  return o['kind'] === KIND && typeof o['apiVersion'] === 'string' && o['apiVersion'].startsWith(`${GROUP}/`);
}

/** `spec.resources.limits[nvidia.com/gpu]` → ['spec', 'resources', 'limits', 'nvidia.com/gpu']. */
export function fieldPath(field: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[([^\]]*)\]/g)) {
    const bracket = m[2];
    if (bracket !== undefined) out.push(/^[0-9]+$/.test(bracket) ? Number(bracket) : bracket);
    else out.push(m[1] ?? '');
  }
  return out;
}

/** The line of the deepest node on `path` under `root` that exists in the file. */
function lineIn(root: Node | null | undefined, path: readonly (string | number)[], lines: LineCounter, fallback: number): number {
  const lineAt = (n: Node | null | undefined): number | undefined => (n?.range ? lines.linePos(n.range[0]).line : undefined);
  let node: Node | null | undefined = root;
  let line = lineAt(root) ?? fallback;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      line = lineAt(pair.key as Node) ?? line;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      line = lineAt(item) ?? line;
      node = item;
    } else break;
  }
  return line;
}

/** The ModelDeployments of one source, and its syntax errors. */
export function findModelDeployments(source: Source): { found: Found[]; problems: ReadProblem[] } {
  const lines = new LineCounter();
  const found: Found[] = [];
  const problems: ReadProblem[] = [];
  for (const doc of parseAllDocuments(source.text, { lineCounter: lines, prettyErrors: false }) as Document[]) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ file: source.file, line: e.linePos?.[0].line ?? 0, message: `Not valid YAML: ${e.message.split('\n')[0]}` });
      continue;
    }
    const value: unknown = doc.toJS();
    const root = doc.contents as Node | null;
    const at = (path: readonly (string | number)[]): Found['lineOf'] => (field) => lineIn(root, [...path, ...fieldPath(field)], lines, lineIn(root, path, lines, 1));
    if (isModelDeployment(value)) {
      found.push({ file: source.file, object: value, line: lineIn(root, [], lines, 1), lineOf: at([]) });
    } else if (typeof value === 'object' && value !== null && Array.isArray((value as { items?: unknown }).items) && /List$/.test(String((value as { kind?: unknown }).kind))) {
      // `kubectl get mdep -o yaml` prints a List.
      ((value as { items: unknown[] }).items).forEach((item, i) => {
        if (isModelDeployment(item)) found.push({ file: source.file, object: item, line: lineIn(root, ['items', i], lines, 1), lineOf: at(['items', i]) });
      });
    }
  }
  return { found, problems };
}

/** "namespace/name", or the name alone when the file gives no namespace. */
export function objectRef(object: Record<string, unknown>): string {
  const meta = (object['metadata'] ?? {}) as { name?: unknown; namespace?: unknown };
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : '(no name)';
  return typeof meta.namespace === 'string' && meta.namespace !== '' ? `${meta.namespace}/${name}` : name;
}
