// An in-memory stand-in for OUR KubeClient interface (and the informer's ListerWatcher), for
// unit tests of code that writes through KubeClient. It is not an API server: no defaulting,
// no validation, no merge semantics. apply stores what it is given (keeping uid and status),
// replace honours metadata.resourceVersion, create refuses a duplicate, delete honours a uid
// precondition. Every call is recorded; errors can be injected.
import type { ApplyOptions, ApplyTarget, DeleteOptions, JsonPatchOp, KubeClient, ListOptions } from '../../../operator/src/kube/client.ts';
import { KubeApiError } from '../../../operator/src/kube/errors.ts';
import type { KubeList, KubeObject, ObjectRef } from '../../../operator/src/kube/types.ts';
import type { ListerWatcher, WatchEnd, WatchEvent } from '../../../operator/src/kube/watch.ts';

export type Verb = 'apply' | 'applyStatus' | 'mergePatch' | 'jsonPatch' | 'delete' | 'get' | 'create' | 'replace' | 'list';

export interface Call {
  verb: Verb;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
  body?: unknown;
  options?: unknown;
}

export const WRITE_VERBS: ReadonlySet<Verb> = new Set(['apply', 'applyStatus', 'mergePatch', 'jsonPatch', 'delete', 'create', 'replace']);

export function apiError(code: number, reason: string, message = reason): KubeApiError {
  return new KubeApiError('FAKE', '/fake', code, { kind: 'Status', status: 'Failure', code, reason, message }, '');
}

interface Watcher {
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  send: (e: WatchEvent<KubeObject>) => void;
}

function key(apiVersion: string, kind: string, namespace: string | undefined, name: string): string {
  return `${apiVersion}|${kind}|${namespace ?? ''}|${name}`;
}

function matchesSelector(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels = obj.metadata?.labels ?? {};
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && labels[k.trim()] === v?.trim();
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 7386 merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube implements KubeClient {
  readonly objects = new Map<string, KubeObject>();
  readonly calls: Call[] = [];
  private rv = 1;
  private uid = 1;
  private failures: Array<{ verb: Verb; kind?: string; error: unknown }> = [];
  private watchers = new Set<Watcher>();

  /** Puts an object in place without recording a call (test setup). Returns the stored copy. */
  seed<T extends KubeObject>(obj: T): T {
    const stored = this.store(structuredClone(obj) as KubeObject);
    return structuredClone(stored) as T;
  }

  /** The next call of this verb (and kind, if given) throws this error. */
  failNext(verb: Verb, error: unknown, kind?: string): void {
    this.failures.push({ verb, kind, error });
  }

  writes(): Call[] {
    return this.calls.filter((c) => WRITE_VERBS.has(c.verb));
  }

  find<T extends KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, name: string): T | undefined {
    const o = this.objects.get(key(apiVersion, kind, namespace, name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  private record(call: Call): void {
    this.calls.push(call);
    const i = this.failures.findIndex((f) => f.verb === call.verb && (f.kind === undefined || f.kind === call.kind));
    if (i !== -1) {
      const [f] = this.failures.splice(i, 1);
      throw f?.error;
    }
  }

  private store(obj: KubeObject): KubeObject {
    const meta = (obj.metadata ??= {});
    const k = key(obj.apiVersion ?? '', obj.kind ?? '', meta.namespace, meta.name ?? '');
    const existing = this.objects.get(k);
    meta.uid ??= existing?.metadata?.uid ?? `uid-${this.uid++}`;
    meta.resourceVersion = String(this.rv++);
    meta.generation ??= existing?.metadata?.generation ?? 1;
    meta.creationTimestamp ??= existing?.metadata?.creationTimestamp ?? new Date(0).toISOString();
    this.objects.set(k, obj);
    this.notify(existing ? 'MODIFIED' : 'ADDED', obj);
    return obj;
  }

  private notify(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject): void {
    for (const w of this.watchers) {
      if (w.apiVersion === obj.apiVersion && w.kind === obj.kind && (w.namespace === undefined || w.namespace === obj.metadata?.namespace)) {
        w.send({ type, object: structuredClone(obj) });
      }
    }
  }

  private existing(ref: ObjectRef): KubeObject {
    const o = this.objects.get(key(ref.apiVersion, ref.kind, ref.namespace, ref.name));
    if (!o) throw apiError(404, 'NotFound', `${ref.kind} ${ref.name} not found`);
    return o;
  }

  async apply<T extends ApplyTarget>(obj: T, options?: ApplyOptions): Promise<T> {
    this.record({ verb: 'apply', apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, body: structuredClone(obj), options });
    const prev = this.objects.get(key(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name)) as (KubeObject & { status?: unknown }) | undefined;
    const next = structuredClone(obj) as KubeObject & { status?: unknown };
    next.metadata = { ...next.metadata, uid: prev?.metadata?.uid };
    if (prev?.status !== undefined) next.status = prev.status;
    return structuredClone(this.store(next)) as T;
  }

  async applyStatus<T extends KubeObject>(obj: ApplyTarget & { status: unknown }, options?: ApplyOptions): Promise<T> {
    this.record({ verb: 'applyStatus', apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, body: structuredClone(obj), options });
    const cur = structuredClone(this.existing({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name })) as KubeObject & { status?: unknown };
    cur.status = structuredClone(obj.status);
    return structuredClone(this.store(cur)) as T;
  }


  async mergePatch<T extends KubeObject>(ref: ObjectRef, patch: unknown): Promise<T> {
    this.record({ verb: 'mergePatch', ...ref, body: structuredClone(patch) });
    const cur = this.existing(ref);
    const next = mergePatch(cur, patch) as KubeObject;
    next.metadata = { ...next.metadata, uid: cur.metadata?.uid };
    return structuredClone(this.store(next)) as T;
  }

  /** JSON patch: test and replace on object paths (what the operator sends). */
  async jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: readonly JsonPatchOp[]): Promise<T> {
    this.record({ verb: 'jsonPatch', ...ref, body: structuredClone(ops) });
    const next = structuredClone(this.existing(ref)) as Record<string, unknown>;
    for (const op of ops) {
      const parts = op.path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
      const last = parts.pop() as string;
      let at: Record<string, unknown> = next;
      for (const p of parts) at = at[p] as Record<string, unknown>;
      if (op.op === 'test' && JSON.stringify(at[last]) !== JSON.stringify(op.value)) throw apiError(422, 'Invalid', `test failed at ${op.path}`);
      if (op.op === 'replace' || op.op === 'add') at[last] = structuredClone(op.value);
      if (op.op === 'remove') delete at[last];
    }
    return structuredClone(this.store(next as KubeObject)) as T;
  }

  async delete(ref: ObjectRef, options: DeleteOptions = {}): Promise<boolean> {
    this.record({ verb: 'delete', ...ref, options });
    const k = key(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    const cur = this.objects.get(k);
    if (!cur) return false;
    if (options.uid && cur.metadata?.uid !== options.uid) throw apiError(409, 'Conflict', 'Precondition failed: UID in precondition does not match');
    if (options.resourceVersion && cur.metadata?.resourceVersion !== options.resourceVersion) throw apiError(409, 'Conflict', 'Precondition failed: resourceVersion does not match');
    this.objects.delete(k);
    this.notify('DELETED', cur);
    return true;
  }

  async get<T extends KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    this.record({ verb: 'get', ...ref });
    const o = this.objects.get(key(ref.apiVersion, ref.kind, ref.namespace, ref.name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  async create<T extends ApplyTarget>(obj: T): Promise<T> {
    this.record({ verb: 'create', apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, body: structuredClone(obj) });
    if (this.objects.has(key(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name))) {
      throw apiError(409, 'AlreadyExists', `${obj.kind} ${obj.metadata.name} already exists`);
    }
    return structuredClone(this.store(structuredClone(obj) as KubeObject)) as T;
  }

  async replace<T extends ApplyTarget>(obj: T): Promise<T> {
    const ref = { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
    this.record({ verb: 'replace', ...ref, body: structuredClone(obj) });
    const cur = this.existing(ref);
    const want = (obj as KubeObject).metadata?.resourceVersion;
    if (want && want !== cur.metadata?.resourceVersion) throw apiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
    const next = structuredClone(obj) as KubeObject;
    next.metadata = { ...next.metadata, uid: cur.metadata?.uid };
    return structuredClone(this.store(next)) as T;
  }

  async list<T extends KubeObject>(apiVersion: string, kind: string, options: ListOptions = {}): Promise<KubeList<T>> {
    this.record({ verb: 'list', apiVersion, kind, namespace: options.namespace });
    return this.snapshot<T>(apiVersion, kind, options.namespace, options.labelSelector);
  }

  private snapshot<T extends KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, labelSelector: string | undefined): KubeList<T> {
    const items = [...this.objects.values()].filter(
      (o) => o.apiVersion === apiVersion && o.kind === kind && (namespace === undefined || o.metadata?.namespace === namespace) && matchesSelector(o, labelSelector),
    );
    return { items: structuredClone(items) as T[], resourceVersion: String(this.rv) };
  }

  /** A ListerWatcher over this store, for Informer's `listerWatcher` option. */
  listerWatcher<T extends KubeObject>(apiVersion: string, kind: string, labelSelector?: string): (namespace: string | undefined) => ListerWatcher<T> {
    return (namespace) => ({
      list: async (_signal, keep) => {
        const list = this.snapshot<T>(apiVersion, kind, namespace, labelSelector);
        return { ...list, items: list.items.map(keep) };
      },
      watch: (_rv, onEvent, signal) =>
        new Promise<WatchEnd>((resolve) => {
          const w: Watcher = {
            apiVersion,
            kind,
            namespace,
            send: (e) => {
              if (e.type === 'BOOKMARK' || matchesSelector(e.object, labelSelector)) onEvent(e as WatchEvent<T>);
            },
          };
          this.watchers.add(w);
          signal.addEventListener(
            'abort',
            () => {
              this.watchers.delete(w);
              resolve({ kind: 'stopped' });
            },
            { once: true },
          );
        }),
    });
  }
}
