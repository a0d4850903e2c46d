import { createHash } from 'node:crypto';
import type { AuditDetailValue } from '../audit/audit-event.js';
import type { Destination } from './destination.repository.js';

/**
 * Longest URL recorded whole in an audit event; a longer one is recorded by its first
 * characters and its SHA-256, because one event's details are capped at 2 KB.
 */
const MAX_AUDITED_URL_CHARS = 512;
/** Header names and event types are listed while they fit; beyond it, counted and hashed. */
const MAX_AUDITED_LIST_CHARS = 512;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function url(value: string): Record<string, AuditDetailValue> {
  if (value.length <= MAX_AUDITED_URL_CHARS) return { url: value };
  return { url: `${value.slice(0, MAX_AUDITED_URL_CHARS)}…`, url_sha256: sha256(value) };
}

function list(name: string, values: readonly string[] | null): Record<string, AuditDetailValue> {
  if (values === null) return { [name]: null };
  const joined = values.join('\n');
  if (joined.length <= MAX_AUDITED_LIST_CHARS) return { [name]: [...values] };
  return { [`${name}_count`]: values.length, [`${name}_sha256`]: sha256(joined) };
}

/**
 * The non-secret settings of a destination, as its audit events record them. Custom header
 * values are credentials (DESIGN §4's receivers authenticate us with them): only their names.
 */
function settings(d: Destination, fields: readonly Field[]): Record<string, AuditDetailValue> {
  const out: Record<string, AuditDetailValue> = {};
  for (const field of fields) {
    if (field === 'url') Object.assign(out, url(d.url));
    else if (field === 'headers') Object.assign(out, list('header_names', Object.keys(d.headers).sort()));
    else if (field === 'event_types') Object.assign(out, list('event_types', d.eventTypes));
    else if (field === 'enabled') out.enabled = d.enabled;
    else if (field === 'timeout_ms') out.timeout_ms = d.timeoutMs;
    else out.max_concurrency = d.maxConcurrency;
  }
  return out;
}

const FIELDS = ['url', 'headers', 'event_types', 'enabled', 'timeout_ms', 'max_concurrency'] as const;
type Field = (typeof FIELDS)[number];

function same(a: Destination, b: Destination, field: Field): boolean {
  switch (field) {
    case 'url':
      return a.url === b.url;
    case 'headers':
      return JSON.stringify(Object.entries(a.headers).sort()) === JSON.stringify(Object.entries(b.headers).sort());
    case 'event_types':
      return JSON.stringify(a.eventTypes) === JSON.stringify(b.eventTypes);
    case 'enabled':
      return a.enabled === b.enabled;
    case 'timeout_ms':
      return a.timeoutMs === b.timeoutMs;
    case 'max_concurrency':
      return a.maxConcurrency === b.maxConcurrency;
  }
}

/** Details of `destination.created`: every setting but header values. */
export function createdDetails(d: Destination): Record<string, AuditDetailValue> {
  return settings(d, FIELDS);
}

/**
 * Details of `destination.updated`: the names of the changed settings and their new values
 * (a changed header value shows as `headers` changed, with the header names only).
 */
export function updatedDetails(before: Destination, after: Destination): Record<string, AuditDetailValue> {
  const changed = FIELDS.filter((field) => !same(before, after, field));
  return { changed: [...changed], ...settings(after, changed) };
}
