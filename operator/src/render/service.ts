// The Service in front of the model servers, with one named port per protocol.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ModelDeployment, Protocol } from '../api/types.ts';
import { runtimePorts } from '../runtimes/index.ts';
import { selectorLabels } from './labels.ts';
import { childMetadata } from './metadata.ts';

const APP_PROTOCOL: Record<Protocol, string> = { http: 'http', grpc: 'kubernetes.io/h2c' };

export function renderService(md: ModelDeployment): V1Service {
  const spec = md.spec;
  const primary: Protocol = spec.runtime?.protocol ?? 'http';
  const secondary: Protocol = primary === 'http' ? 'grpc' : 'http';
  const ports = runtimePorts(spec);
  const servicePorts: V1ServicePort[] = [
    { name: primary, port: spec.service?.port ?? 80, targetPort: primary, protocol: 'TCP', appProtocol: APP_PROTOCOL[primary] },
  ];
  const secondaryPort = ports[secondary];
  if (secondaryPort !== undefined) {
    servicePorts.push({ name: secondary, port: secondaryPort, targetPort: secondary, protocol: 'TCP', appProtocol: APP_PROTOCOL[secondary] });
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(md, spec.service?.annotations),
    spec: {
      type: spec.service?.type ?? 'ClusterIP',
      selector: selectorLabels(md),
      ports: servicePorts,
    },
  };
}
