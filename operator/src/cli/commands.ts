// The `modelship` command line: argument parsing and the three commands, on injected input and
// output so that tests run it in-process. main.ts wires it to the process.
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig, VERSION } from '../config.ts';
import { KubeconfigError } from '../kube/connection.ts';
import { RestClient } from '../kube/rest.ts';
import { renderConfigFrom } from '../render/config.ts';
import { readSources } from './documents.ts';
import { ExplainError, explainRow, formatTable, listModelDeployments } from './explain.ts';
import { formatYaml, renderSources } from './render.ts';
import { errorLines, formatGithub, formatJson, formatText, validateSources } from './validate.ts';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): string;
  env: Record<string, string | undefined>;
  now(): Date;
  /** The API server and the namespace of the kubeconfig's context, for explain. */
  connect(opts: { kubeconfig?: string; context?: string }): Promise<{ rest: RestClient; namespace: string }>;
}

export const USAGE = `Usage: modelship COMMAND [flags]

  validate FILE|DIR|- ...   Check every ModelDeployment in the YAML files exactly as the operator does
                            (the CRD's schema and rules, the operator's own rules); other kinds are
                            skipped. One line per error; exit 1 on any error. No cluster needed.
      -o, --output FORMAT           text (default), json, or github (GitHub Actions annotations)

  render FILE|DIR|- ...     Print the Deployment, Service, HPA and PDB the operator applies for each
                            ModelDeployment, as YAML: modelship render x.yaml | kubectl diff -f -
                            No cluster needed.
      -n, --namespace NS            namespace of the objects that name none (as kubectl apply -n)
      --runtime-image NAME=IMAGE    the operator's flags that change what it renders, read as the
      --model-fetcher-image IMAGE   operator reads them (with their MODELSHIP_* environment
      --cluster-domain DOMAIN       variables); give the values your operator runs with

  explain                   One line per ModelDeployment of a live cluster: ready or not, why, and
                            what to do. Uses the kubeconfig (KUBECONFIG or ~/.kube/config).
      -n, --namespace NS            namespace (default: the kubeconfig context's, else default)
      -A, --all-namespaces          every namespace
      --kubeconfig FILE             kubeconfig file
      --context NAME                kubeconfig context
      -o, --output FORMAT           text (default) or json

  version                   Print the version.

Installed as kubectl-modelship on PATH, it is also the kubectl plugin: kubectl modelship explain
`;

/** The operator flags that shape rendering: render hands them to the operator's own parseConfig. */
const RENDER_FLAGS = ['--runtime-image', '--model-fetcher-image', '--cluster-domain'];

class UsageError extends Error {}

/** Splits the operator's render flags (`--flag=V` or `--flag V`) from the rest. */
function splitRenderFlags(argv: readonly string[]): { operator: string[]; rest: string[] } {
  const operator: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const flag = RENDER_FLAGS.find((f) => arg === f || arg.startsWith(`${f}=`));
    if (flag === undefined) rest.push(arg);
    else if (arg.includes('=')) operator.push(arg);
    else {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`Flag ${flag} needs a value (${flag}=VALUE).`);
      operator.push(`${flag}=${value}`);
      i++;
    }
  }
  return { operator, rest };
}

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

function outputFormat(value: string | undefined, allowed: readonly string[]): string {
  const v = value ?? 'text';
  if (!allowed.includes(v)) throw new UsageError(`Invalid value "${v}" for --output: must be one of ${allowed.join(', ')}.`);
  return v;
}

function files(positionals: string[], command: string): string[] {
  if (positionals.length === 0) throw new UsageError(`modelship ${command} needs a file, a directory or - (standard input).`);
  return positionals;
}

function validate(argv: string[], io: CliIo): number {
  const { values, positionals } = parse(argv, { output: { type: 'string', short: 'o' } });
  const format = outputFormat(values.output, ['text', 'json', 'github']);
  const { sources, problems } = readSources(files(positionals, 'validate'), io.readStdin);
  const report = validateSources(sources, problems);
  io.stdout(format === 'json' ? formatJson(report) : format === 'github' ? formatGithub(report) : formatText(report));
  return report.valid ? 0 : 1;
}

function render(argv: string[], io: CliIo): number {
  const { operator, rest } = splitRenderFlags(argv);
  const { values, positionals } = parse(rest, { namespace: { type: 'string', short: 'n' } });
  let config;
  try {
    config = renderConfigFrom(parseConfig(operator, io.env));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const { sources, problems } = readSources(files(positionals, 'render'), io.readStdin);
  const result = renderSources(sources, { config, ...(values.namespace !== undefined ? { namespace: values.namespace } : {}) });
  const errors = [...problems, ...result.errors];
  if (errors.length > 0) {
    io.stderr(`${errorLines(errors)}Nothing was rendered: fix the errors above.\n`);
    return 1;
  }
  if (result.objects.length === 0) {
    io.stderr(`No ModelDeployment found in ${positionals.join(', ')}.\n`);
    return 0;
  }
  io.stdout(formatYaml(result));
  return 0;
}

async function explain(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  if (positionals.length > 0) throw new UsageError(`modelship explain takes no arguments (got ${positionals.join(' ')}); use -n NAMESPACE or -A.`);
  const format = outputFormat(values.output, ['text', 'json']);
  const all = values['all-namespaces'] === true;
  if (all && values.namespace !== undefined) throw new UsageError('Give either --namespace or --all-namespaces, not both.');
  try {
    const { rest, namespace: contextNamespace } = await io.connect({
      ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
      ...(values.context !== undefined ? { context: values.context } : {}),
    });
    const namespace = all ? undefined : (values.namespace ?? contextNamespace);
    const rows = (await listModelDeployments(rest, namespace)).map((md) => explainRow(md, io.now()));
    if (format === 'json') io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) io.stderr(`No ModelDeployments found${namespace ? ` in namespace ${namespace}` : ''}.\n`);
    else io.stdout(formatTable(rows, all));
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // A kubeconfig that cannot be read, an API server that cannot be reached or refuses.
    io.stderr(`${err instanceof ExplainError ? err.message : `Reading the kubeconfig failed: ${(err as Error).message}`}\n`);
    return 1;
  }
}

/** Runs one command; returns the exit code: 0 fine, 1 problems found, 2 a usage error. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return validate(rest, io);
      case 'render':
        return render(rest, io);
      case 'explain':
        return await explain(rest, io);
      case 'version':
      case '--version':
        io.stdout(`modelship ${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        (command === undefined ? io.stderr : io.stdout)(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`Unknown command "${command}": use validate, render, explain or version.`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`modelship: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** The kubeconfig as kubectl reads it: --kubeconfig, else KUBECONFIG or ~/.kube/config, else in-cluster. */
export async function connect(opts: { kubeconfig?: string; context?: string }): Promise<{ rest: RestClient; namespace: string }> {
  let rest: RestClient;
  try {
    rest = await RestClient.fromDefault({ userAgent: `modelship-cli/${VERSION}`, ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context !== undefined ? { context: opts.context } : {}) });
  } catch (err) {
    if (err instanceof KubeconfigError) throw new UsageError(err.message.replace(/^(.*) has no context named (.*)$/, 'The kubeconfig has no context named $2.'));
    throw err;
  }
  return { rest, namespace: rest.namespace || 'default' };
}
