import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { SecurityContactRepository } from './security-contact.repository.js';

/** Enough for a security team and its deputies; a longer list is a mailing list's job, and bounds each notice's fan-out. */
export const MAX_SECURITY_CONTACTS = 10;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254. */
const MAX_ADDRESS_CHARS = 254;
/**
 * The WHATWG "valid e-mail address" (HTML's input type=email), with at least one dot in the
 * domain: no display names, quotes, spaces, commas or angle brackets, so an address can never
 * smuggle a second recipient or a header into the notice. Checked part by part (no nested
 * quantifiers to backtrack on).
 */
const LOCAL_PART = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;
const LABEL_CHARS = /^[A-Za-z0-9-]+$/;
/** RFC 1035 §2.3.1: 1 to 63 letters, digits and hyphens, neither first nor last a hyphen. */
const isLabel = (label: string): boolean => label.length <= 63 && LABEL_CHARS.test(label) && !label.startsWith('-') && !label.endsWith('-');

function isPlainAddress(address: string): boolean {
  const at = address.indexOf('@');
  if (at <= 0 || at !== address.lastIndexOf('@')) return false;
  const labels = address.slice(at + 1).split('.');
  return LOCAL_PART.test(address.slice(0, at)) && labels.length >= 2 && labels.every(isLabel);
}

export interface SecurityContacts {
  readonly contacts: readonly string[];
  readonly updatedAt: number | null;
  readonly updatedBy: string | null;
}

/** Where a breach notice goes: the contacts, or when there are none the tenant's owners (said so in `source`). */
export interface NoticeRecipients {
  readonly addresses: readonly string[];
  readonly source: 'security_contacts' | 'owners';
}

function invalid(message: string): SealpostError {
  return new SealpostError('SP_ERR_SECURITY_CONTACTS_INVALID', message);
}

/** Validates and normalises (domain lower-cased, duplicates dropped case-insensitively) a list of contacts. */
export function normaliseContacts(input: readonly string[]): string[] {
  if (input.length > MAX_SECURITY_CONTACTS) throw invalid(`At most ${MAX_SECURITY_CONTACTS} security contacts`);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of input) {
    const address = raw.trim();
    if (address.length > MAX_ADDRESS_CHARS || !isPlainAddress(address)) throw invalid('Each security contact must be a plain e-mail address (name@example.com)');
    const at = address.lastIndexOf('@');
    const normal = `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
    if (seen.has(normal.toLowerCase())) continue;
    seen.add(normal.toLowerCase());
    out.push(normal);
  }
  return out;
}

/**
 * A tenant's security contacts (`GET/PUT /v1/security-contacts`): the addresses breach notices
 * are sent to. Owners decide them (policies:manage): redirecting notices would hide a breach
 * from the tenant. With none set, notices go to the tenant's owners.
 */
export class SecurityContactService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repository: SecurityContactRepository,
    private readonly owners: (tenantId: string) => Promise<readonly string[]>,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
  ) {}

  async get(tenantId: string): Promise<SecurityContacts> {
    const stored = await this.repository.find(tenantId);
    return stored ?? { contacts: [], updatedAt: null, updatedBy: null };
  }

  /** Replaces the list (an empty list falls back to the owners), with its `security_contacts.changed` event. */
  async set(tenantId: string, input: readonly string[], actor: AuditActor): Promise<SecurityContacts> {
    const contacts = normaliseContacts(input);
    const at = this.now();
    const by = `${actor.type}:${actor.id ?? 'unknown'}`;
    const sealed = await this.repository.seal(tenantId, contacts);
    await this.db.transaction().execute(async (tx) => {
      await this.repository.store(tenantId, sealed, at, by, tx);
      // The count, not the addresses: the log outlives an erasure, personal data must not.
      await this.audit(tx, { tenant: tenantId, actor, action: 'security_contacts.changed', resource: tenantId, details: { count: contacts.length, fallback_to_owners: contacts.length === 0 } });
    });
    return { contacts, updatedAt: at, updatedBy: by };
  }

  async recipients(tenantId: string): Promise<NoticeRecipients> {
    const { contacts } = await this.get(tenantId);
    if (contacts.length > 0) return { addresses: contacts, source: 'security_contacts' };
    return { addresses: (await this.owners(tenantId)).slice(0, MAX_SECURITY_CONTACTS), source: 'owners' };
  }
}
