// docs/gitops/argocd-cm.yaml is generated from docs/gitops/argocd-health.lua, so the two never
// differ (argocd-cm.test.ts fails when they do). Regenerate: node test/unit/gitops/argocd-cm.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const gitopsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'gitops');
export const healthScriptPath = join(gitopsDir, 'argocd-health.lua');
export const configMapPath = join(gitopsDir, 'argocd-cm.yaml');

/** The argocd-cm key Argo CD reads a custom health check from: group_Kind. */
export const HEALTH_KEY = 'resource.customizations.health.serving.modelship.dev_ModelDeployment';

/** The argocd-cm snippet holding the health script as a literal block. */
export function argoCdConfigMap(script: string): string {
  if (!script.endsWith('\n') || script.endsWith('\n\n')) {
    throw new Error('The health script must end with exactly one newline, so that the literal block keeps it intact.');
  }
  const body = script
    .slice(0, -1)
    .split('\n')
    .map((line) => (line === '' ? '' : `    ${line}`))
    .join('\n');
  return `# Generated from argocd-health.lua by test/unit/gitops/argocd-cm.ts; do not edit by hand.
# Merge this key into the argocd-cm ConfigMap of your Argo CD (kubectl apply would replace the
# other keys of an existing argocd-cm: use kubectl patch, or the Argo CD Helm chart's configs.cm).
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  ${HEALTH_KEY}: |
${body}
`;
}

if (import.meta.main) {
  writeFileSync(configMapPath, argoCdConfigMap(readFileSync(healthScriptPath, 'utf8')));
  console.log(`Wrote ${configMapPath}`);
}
