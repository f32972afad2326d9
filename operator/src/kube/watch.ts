// LIST and WATCH for one collection, as a ListerWatcher: the informer's only view of the server.
import { ChunkedText } from './chunks.ts';
import { decode, echoOf, isBuiltIn, type Echo } from './decode.ts';
import { KubeApiError } from './errors.ts';
import { listAll, METADATA_ACCEPT } from './client.ts';
import { resourcePath } from './resources.ts';
import { parseStatus, type RestClient } from './rest.ts';
import type { KubeList, KubeObject, StatusBody } from './types.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
  /** The object is one of our writes' answers, already as the cache keeps it (echoOf): not decoded again. */
  cached?: true;
}

/** Why a watch ended. */
export type WatchEnd =
  | { kind: 'closed' } // the server ended it (timeoutSeconds) or the stream ended cleanly
  | { kind: 'gone' } // 410: the resourceVersion is too old; relist
  | { kind: 'silent' } // nothing arrived within the inactivity timeout
  | { kind: 'stopped' } // our signal was aborted
  | { kind: 'error'; error: unknown };

export interface ListerWatcher<T> {
  /**
   * Lists every object, each returned as `keep` makes it (the cache's transform, applied as its
   * page arrives, so a relist of thousands never holds them all as decoded).
   */
  list(signal: AbortSignal, keep: (obj: T) => T): Promise<KubeList<T>>;
  /**
   * Resolves when the watch ends; never rejects. `known`: objects our writes returned, by
   * resourceVersion; an event that brings one back delivers it as it is (`cached`).
   */
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal, known?: (resourceVersion: string) => Echo<T> | undefined): Promise<WatchEnd>;
}

export interface RestListerWatcherOptions {
  apiVersion: string;
  kind: string;
  /** Undefined: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Only the objects' metadata (PartialObjectMetadata), for caches that need names and labels. */
  metadataOnly?: boolean;
  /** Decode without the spec but its replicas (a built-in kind whose cache keeps no more: decode.ts). */
  withoutSpec?: boolean;
  /**
   * A watch with no bytes for this long is treated as dead. The server sends bookmarks about
   * once a minute to watches that allow them, so a quiet healthy watch stays under it.
   */
  inactivityTimeoutMs?: number;
  random?: () => number;
}

export const DEFAULT_INACTIVITY_TIMEOUT_MS = 150_000;
// client-go's reflector asks the server to end each watch after 5–10 minutes.
const MIN_WATCH_TIMEOUT_S = 300;

export function restListerWatcher<T extends KubeObject>(rest: RestClient, options: RestListerWatcherOptions): ListerWatcher<T> {
  const inactivityMs = options.inactivityTimeoutMs ?? DEFAULT_INACTIVITY_TIMEOUT_MS;
  const random = options.random ?? Math.random;
  const path = resourcePath(options.apiVersion, options.kind, options.namespace);
  const builtIn = isBuiltIn(options.apiVersion);
  const cut = !options.metadataOnly && builtIn;
  const withoutSpec = cut && options.withoutSpec === true;
  const withTypeMeta = (obj: T): T => (obj.apiVersion && obj.kind ? obj : { ...obj, apiVersion: options.apiVersion, kind: options.kind });
  return {
    list: (signal, keep) => listAll<T>(rest, options.apiVersion, options.kind, { namespace: options.namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, signal, ...(options.metadataOnly ? { metadataOnly: true } : {}), withoutManagedFields: cut, ...(withoutSpec ? { withoutSpec } : {}), keep }),
    async watch(resourceVersion, onEvent, signal, known) {
      // A metadata-only watch serves PartialObjectMetadata, never what a write returned.
      const echoes = options.metadataOnly ? undefined : known;
      const local = new AbortController();
      const onAbort = (): void => local.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      let silent = false;
      // One timer for the whole watch, pushed back as bytes arrive (refresh() allocates nothing).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = (): void => {
        if (timer) return void timer.refresh();
        timer = setTimeout(() => {
          silent = true;
          local.abort();
        }, inactivityMs);
        timer.unref();
      };
      const ended = (err?: unknown): WatchEnd => {
        if (signal.aborted) return { kind: 'stopped' };
        if (silent) return { kind: 'silent' };
        return err === undefined ? { kind: 'closed' } : { kind: 'error', error: err };
      };
      try {
        arm();
        const response = await rest.send('GET', path, {
          query: {
            watch: 1,
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: Math.floor(MIN_WATCH_TIMEOUT_S * (1 + random())),
            labelSelector: options.labelSelector,
            fieldSelector: options.fieldSelector,
          },
          signal: local.signal,
          timeoutMs: 0,
          ...(options.metadataOnly ? { accept: METADATA_ACCEPT } : {}),
        });
        if (response.status === 410) return { kind: 'gone' };
        if (response.status !== 200) {
          const text = await response.text();
          return ended(new KubeApiError('GET', path, response.status, parseStatus(text), text));
        }
        arm();
        // One JSON event a line. The body arrives as Buffers: a line is cut out by byte (a newline
        // never occurs inside a UTF-8 sequence) and decoded once, and a line longer than a chunk is
        // joined from its pieces once, so no growing string is built across chunks.
        const handle = (line: string): WatchEnd | undefined => {
          if (line.trim() === '') return undefined;
          const echo = echoes && echoOf(line, builtIn, echoes);
          if (echo) {
            onEvent({ ...echo, cached: true });
            return undefined;
          }
          const event = decode<{ type: string; object: unknown }>(line, cut, withoutSpec);
          if (event.type === 'ERROR') {
            const status = event.object as StatusBody;
            response.cancel();
            return status.code === 410 ? { kind: 'gone' } : ended(new KubeApiError('GET', path, status.code ?? 500, status, ''));
          }
          if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') {
            onEvent({ type: event.type, object: withTypeMeta(event.object as T) });
          } else if (event.type === 'BOOKMARK') {
            onEvent({ type: 'BOOKMARK', object: event.object as T });
          }
          return undefined;
        };
        const line = new ChunkedText();
        // An ERROR event ends the watch: the body is dropped and what it said is the end.
        let stop: WatchEnd | undefined;
        try {
          await response.each((chunk) => {
            if (stop) return;
            arm();
            let from = 0;
            let nl: number;
            while ((nl = chunk.indexOf(10, from)) !== -1) {
              stop = handle(line.take(chunk, from, nl));
              if (stop) return;
              from = nl + 1;
            }
            line.carry(chunk, from);
          });
        } catch (err) {
          if (!stop) throw err;
        }
        return stop ?? ended();
      } catch (err) {
        return ended(err);
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        local.abort();
      }
    },
  };
}
