// `modelship validate`: every ModelDeployment in the files, checked by the operator's own
// validateModelDeployment (the CRD's schema, the mirrors of its CEL rules, the semantic rules), so
// a file passes here exactly when the operator would accept it. Pure: sources in, a report out.
import { invalidSpecMessage, validateModelDeployment } from '../api/validate.ts';
import { findModelDeployments, type ReadProblem, type Source } from './documents.ts';

/** One error, on one line of the output. `field` is absent for a file that cannot be read. */
export interface Finding {
  file: string;
  line: number;
  kind?: 'ModelDeployment';
  namespace?: string;
  name?: string;
  field?: string;
  message: string;
}

export interface CheckedObject {
  file: string;
  line: number;
  namespace?: string;
  name: string;
  valid: boolean;
  /** For an invalid one: the message the operator writes on its status and in its Event, word for word. */
  statusMessage?: string;
}

export interface ValidationReport {
  valid: boolean;
  files: number;
  objects: CheckedObject[];
  errors: Finding[];
}

function metaString(object: Record<string, unknown>, key: 'name' | 'namespace'): string | undefined {
  const v = (object['metadata'] as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function validateSources(sources: readonly Source[], readProblems: readonly ReadProblem[] = []): ValidationReport {
  const errors: Finding[] = readProblems.map((p) => ({ ...p }));
  const objects: CheckedObject[] = [];
  for (const source of sources) {
    const { found, problems } = findModelDeployments(source);
    errors.push(...problems);
    for (const f of found) {
      const namespace = metaString(f.object, 'namespace');
      const name = metaString(f.object, 'name') ?? '(no name)';
      const where = { kind: 'ModelDeployment' as const, ...(namespace ? { namespace } : {}), name };
      const result = validateModelDeployment(f.object);
      if (result.ok) {
        objects.push({ file: f.file, line: f.line, ...(namespace ? { namespace } : {}), name, valid: true });
        continue;
      }
      objects.push({ file: f.file, line: f.line, ...(namespace ? { namespace } : {}), name, valid: false, statusMessage: invalidSpecMessage(result.errors) });
      for (const e of result.errors) errors.push({ file: f.file, line: f.lineOf(e.field), ...where, field: e.field, message: e.message });
    }
  }
  return { valid: errors.length === 0, files: sources.length, objects, errors };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summary(report: ValidationReport): string {
  const invalid = report.objects.filter((o) => !o.valid).length;
  if (report.objects.length === 0 && report.errors.length === 0) return `No ModelDeployment found in ${plural(report.files, 'file')}.\n`;
  const verdict = report.valid ? 'all valid' : `${invalid} invalid, ${plural(report.errors.length, 'error')}`;
  return `Checked ${plural(report.objects.length, 'ModelDeployment')} in ${plural(report.files, 'file')}: ${verdict}.\n`;
}

/** One line per error: `FILE:LINE: ModelDeployment NS/NAME: FIELD: MESSAGE`. */
export function errorLines(errors: readonly Finding[]): string {
  return errors
    .map((e) => {
      const object = e.name !== undefined ? ` ModelDeployment ${e.namespace ? `${e.namespace}/` : ''}${e.name}:` : '';
      const field = e.field !== undefined ? ` ${e.field}:` : '';
      return `${e.file}:${e.line}:${object}${field} ${e.message}\n`;
    })
    .join('');
}

/** The error lines, then a summary line. */
export function formatText(report: ValidationReport): string {
  return errorLines(report.errors) + summary(report);
}

export function formatJson(report: ValidationReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

// GitHub Actions workflow commands: https://docs.github.com/actions/reference/workflow-commands-for-github-actions
function escapeData(s: string): string {
  return s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

/** One `::error file=…,line=…::` annotation per error, so a pull request shows it on the line. */
export function formatGithub(report: ValidationReport): string {
  return report.errors
    .map((e) => {
      const title = e.name !== undefined ? `ModelDeployment ${e.namespace ? `${e.namespace}/` : ''}${e.name}` : 'modelship validate';
      const props = [`file=${escapeProperty(e.file)}`, ...(e.line > 0 ? [`line=${e.line}`] : []), `title=${escapeProperty(title)}`].join(',');
      return `::error ${props}::${escapeData(e.field !== undefined ? `${e.field}: ${e.message}` : e.message)}\n`;
    })
    .join('') + summary(report);
}
