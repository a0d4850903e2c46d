import { createHash } from 'node:crypto';
import type { AuditDetailValue, AuditEvent } from '../audit/audit-event.js';
import type { Destination } from './destination.repository.js';
import type { DestinationDisabledInfo } from './request-signer.js';

/** Header names and event types are listed while they fit; beyond it, counted and hashed. */
const MAX_AUDITED_LIST_CHARS = 512;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A destination URL is sealed at rest because it may carry a credential, in its query or in
 * its path (chat webhooks put theirs there), so the log names only its origin and its SHA-256:
 * enough to see that it changed, where it points, and to confirm a URL one holds.
 */
function url(value: string): Record<string, AuditDetailValue> {
  return { url_origin: new URL(value).origin, url_sha256: sha256(value) };
}

function list(name: string, values: readonly string[] | null): Record<string, AuditDetailValue> {
  if (values === null) return { [name]: null };
  const joined = values.join('\n');
  if (joined.length <= MAX_AUDITED_LIST_CHARS) return { [name]: [...values] };
  return { [`${name}_count`]: values.length, [`${name}_sha256`]: sha256(joined) };
}

/**
 * The non-secret settings of a destination, as its audit events record them (one event's
 * details are capped at 2 KB). Custom header values are credentials (receivers authenticate
 * us with them): only their names.
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

/** The worker's actor in the events it records. */
const DELIVERY_WORKER = { type: 'system', id: 'delivery-worker' } as const;

/** `destination.disabled` by the worker: the destination kept failing for `destinationDisableAfterDays`. */
export function destinationDisabledEvent(info: DestinationDisabledInfo): Omit<AuditEvent, 'time'> {
  return { tenant: info.tenantId, actor: DELIVERY_WORKER, action: 'destination.disabled', resource: info.destinationId, details: { reason: info.reason } };
}
