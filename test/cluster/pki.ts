// A throw-away PKI for the test control plane, made with the openssl command line: a CA, the
// serving certificates (apiserver, metrics-server, kwok's kubelet endpoint), one client certificate
// per identity (the aggregation layer's front proxy too), and the service-account signing keys. Everything is ECDSA P-256 (as envtest does) except the SA key, which is RSA.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() || e.message}`);
  }
}

function ecKey(dir: string, name: string): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
}

function sign(dir: string, name: string, subject: string, ext: string): void {
  ecKey(dir, name);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650',
      '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`],
    dir,
  );
}

/** Creates the CA, the serving certificate and the SA keys once per cluster directory. */
export function makePki(dir: string): void {
  mkdirSync(dir, { recursive: true });
  if (existsSync(join(dir, 'sa.pub'))) return;
  ecKey(dir, 'ca');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=modelship-test-ca', '-days', '3650', '-sha256', '-out', 'ca.crt'], dir);
  sign(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      '',
    ].join('\n'),
  );
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

/** A serving certificate for `name`, valid for `sans` (openssl subjectAltName syntax), made once. */
export function servingCert(dir: string, name: string, sans: string): { cert: string; key: string } {
  if (!existsSync(join(dir, `${name}.crt`))) {
    sign(dir, name, `/CN=${name}`, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', `subjectAltName=${sans}`, ''].join('\n'));
  }
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A client certificate for `user` in `groups`, signed by the cluster CA. */
export function clientCert(dir: string, user: string, groups: string[] = []): { cert: string; key: string } {
  const name = `client-${user.replace(/[^a-zA-Z0-9-]/g, '_')}`;
  if (!existsSync(join(dir, `${name}.crt`))) {
    const subject = [...groups.map((g) => `/O=${g}`), `/CN=${user}`].join('');
    sign(dir, name, subject, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth', ''].join('\n'));
  }
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A self-contained kubeconfig (certificates embedded) for one identity. */
export function kubeconfigYaml(server: string, caFile: string, cert: { cert: string; key: string }, user: string): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: modelship-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caFile)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(cert.cert)}`,
    `    client-key-data: ${b64(cert.key)}`,
    'contexts:',
    '- name: modelship-test',
    '  context:',
    '    cluster: modelship-test',
    `    user: ${user}`,
    'current-context: modelship-test',
    '',
  ].join('\n');
}
