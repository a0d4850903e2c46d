import { canonicalJson } from '../crypto/canonical-json.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { hashLeaf } from './merkle-tree.js';

/** What the log records. New actions are added here, never renamed: auditors filter on them. */
export const AUDIT_ACTIONS = [
  'api.request',
  // Refused API requests past the first few per client and minute, counted into one event (audit-request.hook.ts).
  'api.refused',
  'tenant.created',
  'api_key.created',
  'api_key.rotated',
  'api_key.revoked',
  'api_key.refused',
  'destination.created',
  'destination.updated',
  'destination.disabled',
  'destination.deleted',
  'destination.replayed',
  'inbox.created',
  'inbox.deleted',
  'signing_key.rotated',
  'kek.rotated',
  'plan.changed',
  'receipt.issued',
  'retention.purged',
  'audit.exported',
  'login.succeeded',
  'login.failed',
  // Operators (issue 11).
  'second_factor.verified',
  'second_factor.enrolled',
  'recovery_codes.generated',
  'session.revoked',
  'operator.created',
  'member.invited',
  'member.role_changed',
  'member.removed',
  'password.set',
  'password.reset_requested',
  'policy.changed',
  // Per-tenant SSO (src/identity/sso/): its settings, e-mail domains, and the logins it verified or refused.
  'sso.oidc_configured',
  'sso.oidc_removed',
  'sso.saml_configured',
  'sso.saml_removed',
  'sso.domain_added',
  'sso.domain_verified',
  'sso.domain_removed',
  'sso.login_succeeded',
  'sso.login_refused',
  // The tenant's data lifecycle (src/ops/lifecycle/).
  'tenant.erasure_requested',
  'tenant.erased',
  'tenant.retention_changed',
  'tenant.exported',
  // `sealpost keys reseal-legacy`: records from before per-tenant keys moved under their tenant's keys.
  'legacy_data.resealed',
  // Payloads past their tenant's retention (or of an erased tenant) deleted by the scheduler, one event per batch.
  'payload.purged',
  // Staff of the deployment (src/identity/staff/): sign-in, and just-in-time access to a tenant (in that tenant's log).
  'staff.added',
  'staff.disabled',
  'staff.credential_enrolled',
  'staff.signed_in',
  'staff.sign_in_refused',
  'staff.access_requested',
  'staff.access_approved',
  'staff.access_denied',
  'staff.access_revoked',
  'staff.access_expired',
  'staff.break_glass',
  'backup.created',
  'backup.restored',
  'backup.scrubbed',
  'backup.pruned',
  'backup.drilled',
  'keys.recovery_exported',
  'keys.recovery_imported',
  // Security operations (issue 14, part C): a tenant's security contacts, where breach notices go.
  'security_contacts.changed',
  // The 72-hour breach workflow (src/ops/breach/), in each affected tenant's log (declared: the deployment tenant's too).
  'breach.declared',
  'breach.notice_sent',
  'breach.notice_acknowledged',
  'breach.deadline_alert',
  // The trust center (src/trust/): the deployment's OpenPGP security key, the auditors' evidence bundle.
  'security_key.created',
  'security_key.imported',
  'compliance.evidence_exported',
  // The operator console's admin side (issue 12): a destination's "send test event", and deliveries retried by id.
  'destination.tested',
  'delivery.retried',
  // The status page (src/status/): probe-found state changes, incidents, their signed updates and postmortems, maintenance.
  'status.component_changed',
  'status.incident_opened',
  'status.incident_updated',
  'status.postmortem_published',
  'status.postmortem_waived',
  'status.maintenance_scheduled',
  'status.maintenance_cancelled',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const ACTOR_TYPES = ['api_key', 'operator', 'staff', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export interface AuditActor {
  readonly type: ActorType;
  /**
   * API key prefix, operator or staff id, or the system job's name. `null` only for an API
   * request whose caller could not be identified (failed authentication).
   */
  readonly id: string | null;
}

/** The HTTP request an `api.request` event records. Never headers, bodies or tokens. */
export interface AuditRequestInfo {
  readonly method: string;
  /** The route pattern (`/v1/payloads/:id`), not the URL: ids go to `resource`, query strings nowhere. */
  readonly route: string;
  readonly status: number;
  readonly ip: string;
  readonly user_agent: string;
  readonly request_id: string;
}

export type AuditDetailValue = string | number | boolean | null | readonly AuditDetailValue[] | { readonly [key: string]: AuditDetailValue };

export interface AuditEvent {
  /** RFC 3339 UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
  readonly time: string;
  readonly tenant: string | null;
  readonly actor: AuditActor;
  readonly action: AuditAction;
  /** Id of the resource acted on (`key_…`, `dst_…`, `rcp_…`). */
  readonly resource?: string;
  readonly request?: AuditRequestInfo;
  /** Small facts about the action (ids, hashes, counts). Never secrets, bodies or tokens. */
  readonly details?: { readonly [key: string]: AuditDetailValue };
}

/** Limits on one event; an event beyond them is refused, and with it the action it records. */
const MAX_ID_CHARS = 128; // ids and key prefixes are far shorter
const MAX_ROUTE_CHARS = 512; // route patterns, not URLs
/** User agents are attacker-chosen; the hook truncates them to this before recording. */
export const MAX_USER_AGENT_CHARS = 256;
const MAX_DETAILS_BYTES = 2048; // "small JSON": ids, hashes, counts
const MAX_EVENT_BYTES = 8192; // bounds one row and one export line
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/**
 * Detail names that suggest a secret or customer content. A guard against an honest mistake,
 * not a filter for hostile input: details are written by our own code.
 */
const FORBIDDEN_DETAIL_NAME = /secret|token|password|passphrase|authorization|cookie|private|credential|^body$|^payload$|^data$/i;

function invalid(reason: string, cause?: unknown): SealpostError {
  return new SealpostError('SP_ERR_AUDIT_EVENT_INVALID', 'The audit event for this action could not be recorded', { cause, logDetail: { reason } });
}

function canonical(value: unknown): Buffer {
  try {
    return canonicalJson(value);
  } catch (cause) {
    throw invalid('not representable as RFC 8785 canonical JSON', cause);
  }
}

function canonicalLength(value: unknown): number {
  return canonical(value).length;
}

function shortString(value: unknown, max: number, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(`${what} must be a string of 1..${max} characters`);
  return value;
}

// May legitimately be empty: clients need not send one.
function userAgent(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_USER_AGENT_CHARS) throw invalid(`request.user_agent must be a string of at most ${MAX_USER_AGENT_CHARS} characters`);
  return value;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** RFC 8785 §3.2.2.2 cannot represent lone surrogates; verifiers refuse them, so the log must too. */
function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(v));
  return false;
}

function checkDetailNames(value: AuditDetailValue, path: string): void {
  if (Array.isArray(value)) {
    value.forEach((item: AuditDetailValue, i) => checkDetailNames(item, `${path}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [name, inner] of Object.entries(value as Record<string, AuditDetailValue>)) {
      if (FORBIDDEN_DETAIL_NAME.test(name)) throw invalid(`details.${path}${name} looks like a secret or content`);
      checkDetailNames(inner, `${path}${name}.`);
    }
  }
}

/**
 * Checks an event and returns it with only the members the format knows, undefined optional
 * members dropped: the object whose canonical JSON is logged.
 */
export function normaliseAuditEvent(event: AuditEvent): AuditEvent {
  if (hasLoneSurrogate(event)) throw invalid('a string holds a lone UTF-16 surrogate');
  if (typeof event.time !== 'string' || !ISO_UTC.test(event.time) || new Date(event.time).toISOString() !== event.time) {
    throw invalid('time must be an ISO 8601 UTC timestamp with milliseconds');
  }
  const tenant = event.tenant === null ? null : shortString(event.tenant, MAX_ID_CHARS, 'tenant');
  if (!ACTOR_TYPES.includes(event.actor?.type)) throw invalid('unknown actor type');
  if (event.actor.id === null && event.actor.type !== 'api_key') throw invalid('only an unidentified API caller may have no actor id');
  const actor: AuditActor = { type: event.actor.type, id: event.actor.id === null ? null : shortString(event.actor.id, MAX_ID_CHARS, 'actor.id') };
  if (!AUDIT_ACTIONS.includes(event.action)) throw invalid(`unknown action ${String(event.action)}`);
  const out: { -readonly [K in keyof AuditEvent]: AuditEvent[K] } = { time: event.time, tenant, actor, action: event.action };
  if (event.resource !== undefined) out.resource = shortString(event.resource, MAX_ID_CHARS, 'resource');
  if (event.request !== undefined) {
    const r = event.request;
    if (!Number.isInteger(r.status) || r.status < 100 || r.status > 599) throw invalid('request.status must be an HTTP status');
    out.request = {
      method: shortString(r.method, 16, 'request.method'),
      route: shortString(r.route, MAX_ROUTE_CHARS, 'request.route'),
      status: r.status,
      ip: shortString(r.ip, 64, 'request.ip'),
      user_agent: userAgent(r.user_agent),
      request_id: shortString(r.request_id, MAX_ID_CHARS, 'request.request_id'),
    };
  }
  if (event.details !== undefined) {
    if (event.details === null || typeof event.details !== 'object' || Array.isArray(event.details)) throw invalid('details must be an object');
    checkDetailNames(event.details, '');
    if (canonicalLength(event.details) > MAX_DETAILS_BYTES) throw invalid(`details exceed ${MAX_DETAILS_BYTES} bytes`);
    out.details = event.details;
  }
  return out;
}

export interface EncodedAuditEvent {
  readonly event: AuditEvent;
  /** RFC 8785 canonical JSON: the stored bytes, and the input of the leaf hash. */
  readonly canonical: Buffer;
  /** SHA-256(0x00 || canonical), RFC 9162 §2.1.1. */
  readonly leafHash: Buffer;
}

export function encodeAuditEvent(event: AuditEvent): EncodedAuditEvent {
  const normalised = normaliseAuditEvent(event);
  const bytes = canonical(normalised);
  if (bytes.length > MAX_EVENT_BYTES) throw invalid(`event exceeds ${MAX_EVENT_BYTES} bytes`);
  return { event: normalised, canonical: bytes, leafHash: hashLeaf(bytes) };
}
