// Errors from the API server, with the HTTP status and the Status reason.
import type { StatusBody } from './types.ts';

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  readonly status: StatusBody | undefined;

  constructor(method: string, path: string, statusCode: number, status: StatusBody | undefined, text: string) {
    const detail = status?.message ?? (text.trim().slice(0, 300) || `HTTP ${statusCode}`);
    super(`${method} ${path} failed with ${statusCode}${status?.reason ? ` ${status.reason}` : ''}: ${detail}`);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = status?.reason ?? '';
    this.method = method;
    this.path = path;
    this.status = status;
  }
}

function code(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.statusCode;
  if (err && typeof err === 'object' && 'statusCode' in err && typeof err.statusCode === 'number') return err.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => code(err) === 404;
export const isConflict = (err: unknown): boolean => code(err) === 409;
export const isAlreadyExists = (err: unknown): boolean => code(err) === 409 && err instanceof KubeApiError && err.reason === 'AlreadyExists';
export const isInvalid = (err: unknown): boolean => code(err) === 422;

/** A write refused because its namespace is being deleted: nothing to retry. */
export const isNamespaceTerminating = (err: unknown): boolean =>
  code(err) === 403 &&
  err instanceof KubeApiError &&
  (((err.status?.details as { causes?: { type?: string }[] } | undefined)?.causes ?? []).some((c) => c.type === 'NamespaceTerminating') ||
    /because it is being terminated/.test(err.message));

/** A write refused locally because this replica no longer holds the leader lease. */
export class NotLeaderError extends Error {
  constructor(message = 'Refused a write: this replica no longer holds the leader lease') {
    super(message);
    this.name = 'NotLeaderError';
  }
}
