// Security contexts that meet the Kubernetes "restricted" Pod Security Standard. Nothing here, or
// anywhere in render, ever sets privileged, hostPath, hostNetwork, hostPID or hostIPC.
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

export function podSecurityContext(): V1PodSecurityContext {
  return { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
}

export function containerSecurityContext(runAsUser: number | undefined): V1SecurityContext {
  const sc: V1SecurityContext = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
  if (runAsUser !== undefined) sc.runAsUser = runAsUser;
  return sc;
}
