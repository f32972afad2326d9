// `modelship render`: the children of each ModelDeployment exactly as the operator applies them
// (to a ModelDeployment with no children yet): the same validation and defaults
// (validateModelDeployment), the same rendering (renderChildren) with the same config
// (renderConfigFrom over the operator's own flag parsing), shaped by the same rollout plan
// (firstApply: the first Deployment's name, role and revision), in the order the reconcile applies
// them, with the applied-hash annotation it adds. Pure: objects in, YAML out.
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { validateModelDeployment } from '../api/validate.ts';
import { withAppliedHash } from '../controller/children.ts';
import { firstApply } from '../controller/rollout.ts';
import type { RenderConfig } from '../render/config.ts';
import { renderChildren } from '../render/index.ts';
import { findModelDeployments, type Found, type Source } from './documents.ts';
import { validateSources, type Finding } from './validate.ts';

export interface RenderOptions {
  config: RenderConfig;
  /** Set on every object without one, like `kubectl apply -n`; a different namespace in the file is an error. */
  namespace?: string;
}

export interface RenderResult {
  /** The children of every ModelDeployment, in file order, each as the operator applies it. */
  objects: KubernetesObject[];
  /** Why nothing was rendered: the same errors `modelship validate` reports. */
  errors: Finding[];
  /** ModelDeployments rendered without ownerReferences and the applied-hash annotation (no uid). */
  withoutUid: string[];
}

/** The object in the namespace --namespace names, or why not (kubectl refuses the same). */
function placed(f: Found, namespace: string | undefined): { object: Record<string, unknown> } | { error: Finding } {
  const meta = (f.object['metadata'] ?? {}) as Record<string, unknown>;
  if (namespace === undefined) return { object: f.object };
  const own = meta['namespace'];
  if (typeof own === 'string' && own !== '' && own !== namespace) {
    const name = String(meta['name'] ?? '');
    return { error: { file: f.file, line: f.lineOf('metadata.namespace'), kind: 'ModelDeployment', namespace: own, name, field: 'metadata.namespace', message: `is ${own}, but --namespace says ${namespace}` } };
  }
  return { object: { ...f.object, metadata: { ...meta, namespace } } };
}

/**
 * The children as the operator's reconcile applies them. Without the ModelDeployment's uid (a file
 * from git has none) the ownerReferences cannot be written, and the applied-hash annotation, a
 * hash over the whole child, would not be the operator's: both are left out, which `kubectl diff`
 * reads as "no change" for them. `kubectl get mdep NAME -o yaml | modelship render -` has the uid.
 */
export function renderSources(sources: readonly Source[], opts: RenderOptions): RenderResult {
  const report = validateSources(sources);
  if (!report.valid) return { objects: [], errors: report.errors, withoutUid: [] };
  const objects: KubernetesObject[] = [];
  const errors: Finding[] = [];
  const withoutUid: string[] = [];
  for (const source of sources) {
    for (const f of findModelDeployments(source).found) {
      const where = placed(f, opts.namespace);
      if ('error' in where) {
        errors.push(where.error);
        continue;
      }
      const result = validateModelDeployment(where.object);
      if (!result.ok) continue; // validateSources reported it already
      const uid = result.value.metadata.uid;
      if (uid === undefined || uid === '') withoutUid.push(result.value.metadata.name ?? '');
      for (const child of firstApply(result.value, renderChildren(result.value, opts.config))) {
        if (uid) objects.push(withAppliedHash(child));
        else {
          const { ownerReferences: _, ...metadata } = child.metadata ?? {};
          objects.push({ ...child, metadata });
        }
      }
    }
  }
  return errors.length > 0 ? { objects: [], errors, withoutUid: [] } : { objects, errors, withoutUid };
}

export function formatYaml(result: RenderResult): string {
  const header =
    result.withoutUid.length > 0
      ? `# Rendered by modelship render. Without the uid of ${result.withoutUid.join(', ')}, ownerReferences and the\n# serving.modelship.dev/applied-hash annotation are left out (render \`kubectl get mdep NAME -o yaml\` to have them).\n`
      : '# Rendered by modelship render.\n';
  return header + result.objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}
