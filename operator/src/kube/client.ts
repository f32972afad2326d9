// KubeClient: the small interface the controller writes through. HttpKubeClient talks to the
// API server; test/unit/support/fake-kube.ts is an in-memory stand-in for this interface.
import { isBuiltIn } from './decode.ts';
import { isNotFound } from './errors.ts';
import { ListScanner } from './list-stream.ts';
import { resourcePath } from './resources.ts';
import type { RestClient } from './rest.ts';
import type { KubeList, KubeObject, ObjectRef } from './types.ts';

export const FIELD_MANAGER = 'modelship';

/** The patch content types the API server takes. */
export const PatchStrategy = {
  ServerSideApply: 'application/apply-patch+yaml',
  MergePatch: 'application/merge-patch+json',
  JsonPatch: 'application/json-patch+json',
} as const;

export interface ApplyOptions {
  /** Default "modelship". */
  fieldManager?: string;
  /** Take over fields other managers own. Default true: we own what we apply. */
  force?: boolean;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  /** Only delete the object with this uid (it is not a newer object of the same name). */
  uid?: string;
  /** Only delete this version of the object. */
  resourceVersion?: string;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  signal?: AbortSignal;
}

export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  signal?: AbortSignal;
  /** Only the objects' metadata (PartialObjectMetadata, as controller-runtime's metadata client). */
  metadataOnly?: boolean;
}

export interface ListAllOptions<T> extends ListOptions {
  /** Applied to each item as its page arrives: what is kept of it (a cache's transform). */
  keep?: (item: T) => T;
  /** Decode items without metadata.managedFields (built-in kinds only: see decode.ts). */
  withoutManagedFields?: boolean;
  /** With withoutManagedFields: decode items without the spec but its replicas too (decode.ts). */
  withoutSpec?: boolean;
}

/** Accept headers that ask the API server for metadata only (meta.k8s.io/v1 PartialObjectMetadata). */
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
export const METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/** What an object sent to the server must have: apiVersion, kind and metadata.name. */
export interface ApplyTarget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface KubeClient {
  /** Server-side apply (application/apply-patch+yaml). Returns the object as stored. */
  apply<T extends ApplyTarget>(obj: T, options?: ApplyOptions): Promise<T>;
  /**
   * Server-side apply on the /status subresource: send apiVersion, kind, metadata.name/namespace
   * and the whole status the operator owns; fields it owned and left out are removed.
   */
  applyStatus<T extends KubeObject>(obj: ApplyTarget & { status: unknown }, options?: ApplyOptions): Promise<T>;
  /** JSON merge patch on the object. */
  mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, options?: { signal?: AbortSignal }): Promise<T>;
  /** JSON patch (RFC 6902) on the object: for a field inside an object someone else owns. */
  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: readonly JsonPatchOp[], options?: { signal?: AbortSignal; fieldManager?: string }): Promise<T>;
  /** Deletes; false when it was already gone. */
  delete(ref: ObjectRef, options?: DeleteOptions): Promise<boolean>;
  /** Reads one object from the server (not a cache); undefined when not found. */
  get<T extends KubeObject>(ref: ObjectRef, options?: { signal?: AbortSignal }): Promise<T | undefined>;
  create<T extends ApplyTarget>(obj: T, options?: { signal?: AbortSignal }): Promise<T>;
  /** PUT; with metadata.resourceVersion set, a concurrent change fails with 409 Conflict. */
  replace<T extends ApplyTarget>(obj: T, options?: { signal?: AbortSignal }): Promise<T>;
  list<T extends KubeObject>(apiVersion: string, kind: string, options?: ListOptions): Promise<KubeList<T>>;
}

function path(obj: ApplyTarget, sub?: string): string {
  return resourcePath(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name, sub);
}

function refPath(ref: ObjectRef, sub?: string): string {
  return resourcePath(ref.apiVersion, ref.kind, ref.namespace, ref.name, sub);
}

export interface HttpKubeClientOptions {
  /**
   * Write answers (apply, patch, create, replace) of built-in kinds decoded without
   * metadata.managedFields, which the API server encodes as their last metadata field (decode.ts):
   * for a client whose answers go into caches that drop them anyway (4.2 of the 9.1 KB of a
   * benchmark model's Deployment). Reads are decoded whole: a foreign object's managers say who made it.
   */
  writeAnswersWithoutManagedFields?: boolean;
}

export class HttpKubeClient implements KubeClient {
  private readonly rest: RestClient;
  private readonly cutAnswers: boolean;

  constructor(rest: RestClient, options: HttpKubeClientOptions = {}) {
    this.rest = rest;
    this.cutAnswers = options.writeAnswersWithoutManagedFields === true;
  }

  /** Whether a write's answer about an object of this apiVersion is decoded without its managedFields. */
  private cut(apiVersion: string): boolean {
    return this.cutAnswers && isBuiltIn(apiVersion);
  }

  apply<T extends ApplyTarget>(obj: T, options: ApplyOptions = {}): Promise<T> {
    return this.ssa<T>(path(obj), obj, options);
  }

  applyStatus<T extends KubeObject>(obj: ApplyTarget & { status: unknown }, options: ApplyOptions = {}): Promise<T> {
    return this.ssa<T>(path(obj, 'status'), obj, options);
  }

  private ssa<T>(p: string, obj: ApplyTarget, options: ApplyOptions): Promise<T> {
    // JSON is YAML, so the apply body is sent as JSON with the apply content type.
    return this.rest.request<T>('PATCH', p, {
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER, force: options.force ?? true },
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      signal: options.signal,
      withoutManagedFields: this.cut(obj.apiVersion),
    });
  }


  mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', refPath(ref), {
      query: { fieldManager: FIELD_MANAGER },
      body: patch,
      contentType: PatchStrategy.MergePatch,
      signal: options.signal,
      withoutManagedFields: this.cut(ref.apiVersion),
    });
  }

  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: readonly JsonPatchOp[], options: { signal?: AbortSignal; fieldManager?: string } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', refPath(ref), {
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER },
      body: ops,
      contentType: PatchStrategy.JsonPatch,
      signal: options.signal,
      withoutManagedFields: this.cut(ref.apiVersion),
    });
  }

  async delete(ref: ObjectRef, options: DeleteOptions = {}): Promise<boolean> {
    const preconditions: Record<string, string> = {};
    if (options.uid) preconditions.uid = options.uid;
    if (options.resourceVersion) preconditions.resourceVersion = options.resourceVersion;
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: options.propagationPolicy ?? 'Background' };
    if (Object.keys(preconditions).length > 0) body.preconditions = preconditions;
    try {
      await this.rest.request('DELETE', refPath(ref), { body, signal: options.signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async get<T extends KubeObject>(ref: ObjectRef, options: { signal?: AbortSignal } = {}): Promise<T | undefined> {
    try {
      return await this.rest.request<T>('GET', refPath(ref), { signal: options.signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  create<T extends ApplyTarget>(obj: T, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('POST', resourcePath(obj.apiVersion, obj.kind, obj.metadata.namespace), {
      query: { fieldManager: FIELD_MANAGER },
      body: obj,
      signal: options.signal,
      withoutManagedFields: this.cut(obj.apiVersion),
    });
  }

  replace<T extends ApplyTarget>(obj: T, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('PUT', path(obj), { query: { fieldManager: FIELD_MANAGER }, body: obj, signal: options.signal, withoutManagedFields: this.cut(obj.apiVersion) });
  }

  async list<T extends KubeObject>(apiVersion: string, kind: string, options: ListOptions = {}): Promise<KubeList<T>> {
    return listAll<T>(this.rest, apiVersion, kind, options);
  }
}

/**
 * Lists every page (500 a page); all pages share the first page's resourceVersion. Each page is
 * read as it arrives (ListScanner): every item is decoded on its own and passed through `keep`
 * at once, so a page is never held whole, as text or as decoded objects.
 */
export async function listAll<T extends KubeObject>(rest: RestClient, apiVersion: string, kind: string, options: ListAllOptions<T> = {}): Promise<KubeList<T>> {
  const items: T[] = [];
  const take = (item: T): void => {
    // List items of built-in kinds come without apiVersion/kind; the item is ours to complete.
    item.apiVersion ??= apiVersion;
    item.kind ??= kind;
    items.push(options.keep ? options.keep(item) : item);
  };
  const path = resourcePath(apiVersion, kind, options.namespace);
  let cont: string | undefined;
  let resourceVersion = '';
  do {
    const response = await rest.open('GET', path, {
      query: { limit: 500, continue: cont, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
      signal: options.signal,
      ...(options.metadataOnly ? { accept: METADATA_LIST_ACCEPT } : {}),
    });
    const scanner = new ListScanner<T>(take, options.withoutManagedFields === true, options.withoutSpec === true);
    try {
      await response.each((chunk) => scanner.push(chunk));
    } catch (err) {
      response.cancel();
      throw err;
    }
    const page = scanner.end<{ metadata?: { resourceVersion?: string; continue?: string } }>();
    if (!cont) resourceVersion = page.metadata?.resourceVersion ?? '';
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return { items, resourceVersion };
}
