// Decoding the API server's JSON for the caches: built-in kinds without their managedFields.

/**
 * An object's text (a watch event's line, a list's item) without its metadata.managedFields,
 * which no cache keeps: about half of each Deployment, ReplicaSet and Pod, so not decoding it
 * halves JSON.parse's work on them (and the garbage it leaves).
 *
 * Only for built-in kinds, which the API server encodes in the field order of their Go types:
 * managedFields is the last field of metadata, and spec follows metadata. The array therefore runs
 * from `,"managedFields":[` to the first `]},"spec":{` after it: a quote inside a JSON string is
 * always escaped, and the entries' own keys (manager, operation, time, fieldsV1 with its "f:",
 * "k:", "v:" and "i:" keys) are never "spec". Custom resources are encoded with sorted keys, where
 * this does not hold: their text is decoded whole.
 */
export function withoutManagedFields(text: string): string {
  const from = text.indexOf(',"managedFields":[');
  if (from === -1) return text;
  const to = text.indexOf(']},"spec":{', from);
  return to === -1 ? text : text.slice(0, from) + text.slice(to + 1);
}

/** A built-in kind's API group has no dot; a custom resource's must have one. */
export function isBuiltIn(apiVersion: string): boolean {
  const slash = apiVersion.indexOf('/');
  return slash === -1 || !apiVersion.slice(0, slash).includes('.');
}

const SPEC = '},"spec":{';
const STATUS = '},"status":{';
const REPLICAS = '"replicas":';

/**
 * An object's text (after withoutManagedFields) with its spec emptied but for a leading
 * `"replicas":N`: for caches that keep no more of the spec than that (pods, ReplicaSets), whose
 * spec (the pod's, or the ReplicaSet's pod template) is three quarters of what is left to decode.
 *
 * Built-in kinds only, for the same reason as above: spec follows metadata (so `},"spec":{` is
 * where metadata ends), status follows spec, and replicas is the spec's first field where it has
 * one (ReplicaSetSpec). The cut ends at the first `},"status":{` after the spec opens: a quote
 * inside a JSON string is always escaped, so both are structural. Were that `}` not the spec's own
 * but one inside it, the text cut out would open more objects than it closes, the rest could not
 * parse, and decode() would fall back to the whole text.
 */
export function withoutSpec(text: string): string {
  const open = text.indexOf(SPEC);
  if (open === -1) return text;
  let from = open + SPEC.length;
  if (text.startsWith(REPLICAS, from)) {
    from += REPLICAS.length;
    for (let c = text.charCodeAt(from); c >= 0x30 && c <= 0x39; c = text.charCodeAt(from)) from++;
  }
  const close = text.indexOf(STATUS, from);
  return close === -1 || close === from ? text : text.slice(0, from) + text.slice(close);
}

/**
 * JSON.parse, with managedFields cut out first when `cut` (a built-in kind's text), and the spec
 * but its replicas too when `spec` is also set.
 */
export function decode<T>(text: string, cut: boolean, spec = false): T {
  if (cut) {
    try {
      const lean = withoutManagedFields(text);
      return JSON.parse(spec ? withoutSpec(lean) : lean) as T;
    } catch {
      // Not the shape the cut expects: the whole text says why, or decodes.
    }
  }
  return JSON.parse(text) as T;
}

/** What a write of ours returned, kept until the watch brings the same version back. */
export interface Echo<T> {
  uid: string;
  /** As the cache keeps it. */
  object: T;
}

const ADDED = '{"type":"ADDED","object":{';
const MODIFIED = '{"type":"MODIFIED","object":{';
const RESOURCE_VERSION = '"resourceVersion":"';

/**
 * The watch event in `line`, when it brings back an object one of our writes returned (`known`,
 * by resourceVersion): that object, not decoded again. An object's resourceVersion names one
 * version of it, so the write's answer and the event hold the same object.
 *
 * Read without parsing: the line's first `"resourceVersion":"`, taken as the object's only where
 * the uid beside it is the known object's, in the place the API server encodes it. A built-in kind
 * is encoded in its Go types' field order: kind, apiVersion, then metadata's name, generateName,
 * namespace, selfLink, uid (strings that can hold no quote) and resourceVersion, so its
 * resourceVersion comes right after `"uid":"<uid>",`. A custom resource is encoded with sorted
 * keys: metadata ends with resourceVersion, (selfLink,) uid, then spec follows, so it reads
 * `"resourceVersion":"<rv>","uid":"<uid>"},"spec":{`; an annotation or label map holding such keys
 * is followed by another metadata key, never by spec. Anything else is decoded as usual.
 */
export function echoOf<T>(line: string, builtIn: boolean, known: (resourceVersion: string) => Echo<T> | undefined): { type: 'ADDED' | 'MODIFIED'; object: T } | undefined {
  const type = line.startsWith(MODIFIED) ? 'MODIFIED' : line.startsWith(ADDED) ? 'ADDED' : undefined;
  if (type === undefined) return undefined;
  const at = line.indexOf(RESOURCE_VERSION);
  if (at === -1) return undefined;
  const from = at + RESOURCE_VERSION.length;
  const to = line.indexOf('"', from);
  if (to === -1) return undefined;
  const echo = known(line.slice(from, to));
  if (echo === undefined) return undefined;
  const own = builtIn ? line.endsWith(`"uid":"${echo.uid}",`, at) : line.startsWith(`","uid":"${echo.uid}"},"spec":{`, to);
  return own ? { type, object: echo.object } : undefined;
}
