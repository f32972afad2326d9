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

/** JSON.parse, with managedFields cut out first when `cut` (a built-in kind's text). */
export function decode<T>(text: string, cut: boolean): T {
  if (cut) {
    try {
      return JSON.parse(withoutManagedFields(text)) as T;
    } catch {
      // Not the shape the cut expects: the whole text says why, or decodes.
    }
  }
  return JSON.parse(text) as T;
}
