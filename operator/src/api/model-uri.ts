// The one parser of model URIs: validation (semantic.ts), rendering (render/model-source.ts) and
// the CRD's CEL rule (schema.ts) all take their knowledge of schemes from here.

/** Schemes downloaded by the model fetcher init container. */
export const DOWNLOAD_SCHEMES = ['s3', 'gs', 'https', 'hf'] as const;
export type DownloadScheme = (typeof DOWNLOAD_SCHEMES)[number];

/** Schemes whose fetcher can read credentials from model.credentialsSecret. */
export const CREDENTIAL_SCHEMES = ['s3', 'gs', 'hf'] as const;
export type CredentialScheme = (typeof CREDENTIAL_SCHEMES)[number];

export type ModelSource =
  | { kind: 'download'; scheme: DownloadScheme; uri: string }
  | { kind: 'pvc'; claimName: string; subPath?: string };

export type ParsedModelUri = { ok: true; source: ModelSource } | { ok: false; message: string };

const SCHEME_RE = /^([a-z0-9]+):\/\/(.*)$/s;

/** The scheme of a URI ("s3"), or undefined when it has none. */
export function uriScheme(uri: string): string | undefined {
  return SCHEME_RE.exec(uri)?.[1];
}

export function isCredentialScheme(scheme: string | undefined): scheme is CredentialScheme {
  return (CREDENTIAL_SCHEMES as readonly string[]).includes(scheme ?? '');
}

/**
 * Why a URI must not be used as it is: credentials in it (user:password@, or a query string such as
 * a presigned URL's signature) would be copied into the pod template, the status, Events and logs,
 * where everyone who may read those reads them. Undefined when the URI carries none.
 */
export const URI_SECRET_MESSAGE =
  'must not carry credentials: no user:password@ and no query string (a presigned URL carries its signature there), because the URI is copied into the pod template, the status and Events; put the credentials in a Secret named by model.credentialsSecret (s3://, gs://, hf://), or mount the model from a pvc://';

/** True when the URI has a user-info part or a query string or fragment. */
export function carriesSecrets(uri: string): boolean {
  const rest = SCHEME_RE.exec(uri)?.[2] ?? uri;
  const authority = rest.split('/')[0] ?? '';
  return authority.includes('@') || uri.includes('?') || uri.includes('#');
}

/** The same test as a CEL expression for the CRD: true when the URI is acceptable. */
export const NO_SECRETS_CEL = "!self.uri.matches('^[a-z0-9]+://[^/]*@') && !self.uri.contains('?') && !self.uri.contains('#')";

/** Parses a URI that passed the schema pattern. */
export function parseModelUri(uri: string): ParsedModelUri {
  const m = SCHEME_RE.exec(uri);
  const scheme = m?.[1];
  const rest = m?.[2] ?? '';
  if (carriesSecrets(uri)) return { ok: false, message: URI_SECRET_MESSAGE };
  if (scheme === 'pvc') {
    const slash = rest.indexOf('/');
    const claimName = slash < 0 ? rest : rest.slice(0, slash);
    if (claimName === '') return { ok: false, message: 'must name a claim: pvc://CLAIM/PATH' };
    const subPath = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
    // It becomes the volume mount's subPath, which the API server wants relative and without '..'.
    if (subPath.startsWith('/') || subPath.split('/').includes('..')) {
      return { ok: false, message: 'must have a path inside the claim: pvc://CLAIM/PATH, where PATH has no leading / (pvc://CLAIM//x) and no .. segment' };
    }
    return { ok: true, source: subPath === '' ? { kind: 'pvc', claimName } : { kind: 'pvc', claimName, subPath } };
  }
  if ((DOWNLOAD_SCHEMES as readonly string[]).includes(scheme ?? '')) {
    return { ok: true, source: { kind: 'download', scheme: scheme as DownloadScheme, uri } };
  }
  return { ok: false, message: `has the unsupported scheme ${scheme === undefined ? '(none)' : `${scheme}://`}; use s3://, gs://, https://, hf:// or pvc://` };
}

/** The source of a URI that validation accepted. Throws on one it would have refused. */
export function modelSource(uri: string): ModelSource {
  const parsed = parseModelUri(uri);
  if (!parsed.ok) throw new Error(`model URI ${parsed.message}`);
  return parsed.source;
}
