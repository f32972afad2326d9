// JSON logs through winston: one object a line, with the object's kind/namespace/name as fields.
// Values under secret-looking keys, and a Secret's data, are redacted before anything is written.
import type { Writable } from 'node:stream';
import winston from 'winston';
import type { LogLevel } from '../config.ts';

export type Logger = winston.Logger;

export const REDACTED = '[REDACTED]';

const SECRET_KEY = /(password|passwd|secret|token|authorization|api[-_]?key|private[-_]?key|credential|bearer|client[-_]?key)/i;
// Names of fields that name a secret rather than hold one (credentialsSecret: "s3-creds").
const SECRET_REFERENCE = /(secret(name|ref)?|credentialssecret|secretkeyref|tokenpath|tokenfile)$/i;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !SECRET_REFERENCE.test(key);
}

/** A copy of value with secret values replaced. Pure; handles cycles and Errors. */
export function redact(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  const obj = value as Record<string, unknown>;
  const isSecretObject = obj.kind === 'Secret';
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (isSecretObject && (k === 'data' || k === 'stringData') && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.keys(v).map((dk) => [dk, REDACTED]));
    } else if (isSecretKey(k) && v !== undefined && v !== null && typeof v !== 'object') {
      out[k] = REDACTED;
    } else if (isSecretKey(k) && v && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = Object.fromEntries(Object.keys(v).map((dk) => [dk, REDACTED]));
    } else {
      out[k] = redact(v, seen);
    }
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    const value = info[key];
    if (isSecretKey(key) && value !== undefined && value !== null && typeof value !== 'object') info[key] = REDACTED;
    else info[key] = redact(value);
  }
  return info;
});

export interface LoggerOptions {
  /** Where lines go; stdout by default. */
  stream?: Writable;
  /** Fields on every line. */
  defaultMeta?: Record<string, unknown>;
}

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const logger = winston.createLogger({
    level,
    defaultMeta: options.defaultMeta,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      redactFormat(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [transport],
  });
  // winston runs every format (the redaction, the timestamp, the JSON) before its transports drop
  // a line below their level, so each debug line cost as much as a written one at info (a
  // convergence logs three debug lines a model). Below the level, nothing is built now.
  const methods = logger as unknown as Record<string, (...args: unknown[]) => Logger>;
  for (const name of Object.keys(logger.levels)) {
    const method = methods[name];
    if (typeof method !== 'function') continue;
    methods[name] = function (this: Logger | undefined, ...args: unknown[]): Logger {
      return logger.isLevelEnabled(name) ? method.apply(this ?? logger, args) : logger;
    };
  }
  return logger;
}

interface ObjectLike {
  kind?: string;
  metadata?: { namespace?: string; name?: string };
}

/** The structured fields that identify an object in a log line. */
export function objectFields(obj: ObjectLike): { kind?: string; namespace?: string; name?: string } {
  const fields: { kind?: string; namespace?: string; name?: string } = {};
  if (obj.kind) fields.kind = obj.kind;
  if (obj.metadata?.namespace) fields.namespace = obj.metadata.namespace;
  if (obj.metadata?.name) fields.name = obj.metadata.name;
  return fields;
}

/** The fields for a queue key ("namespace/name"). */
export function keyFields(key: string, kind?: string): { kind?: string; namespace?: string; name: string } {
  const slash = key.indexOf('/');
  const fields: { kind?: string; namespace?: string; name: string } =
    slash === -1 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
  if (kind) fields.kind = kind;
  return fields;
}
