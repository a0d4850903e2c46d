import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { InboxDmarcPolicy } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { inboxAddress, newInboxToken, normalizeInboundDomain, parseAlias, parseRecipient } from './inbox-address.js';
import type { Inbox, InboxRepository } from './inbox.repository.js';

/** Enough for one address per vendor of a large tenant; more is an address farm, not a use case. */
export const MAX_INBOXES_PER_TENANT = 1_000;
/** A token collision is a 2^-80 event; retrying a few times turns it into "never". */
const TOKEN_ATTEMPTS = 3;

export interface InboxRecipient {
  readonly inbox: Inbox;
  /** The plus-tag of `<token>+<tag>@domain`, kept as written; null without one. */
  readonly tag: string | null;
}

/**
 * Inboxes: create, list, delete, and the SMTP recipient lookup. Creating and deleting one
 * writes `inbox.created` / `inbox.deleted` in the same transaction; never the address, whose
 * token is the inbox's whole credential.
 */
export class InboxService {
  readonly domain: string;

  constructor(
    private readonly inboxes: InboxRepository,
    inboundDomain: string,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
    /** Named addresses of the inbound domain (`security@`) and the inbox each reaches. */
    private readonly aliases: ReadonlyMap<string, () => Promise<Inbox>> = new Map(),
  ) {
    this.domain = normalizeInboundDomain(inboundDomain);
  }

  /** Seals the tokens of inboxes created before migration 0010 (see InboxRepository.sealLegacyTokens). */
  sealLegacyTokens(): Promise<number> {
    return this.inboxes.sealLegacyTokens();
  }

  address(inbox: Pick<Inbox, 'token'>): string {
    return inboxAddress(inbox.token, this.domain);
  }

  async create(tenantId: string, input: { dmarcPolicy?: InboxDmarcPolicy }, actor: AuditActor): Promise<Inbox> {
    // Checked before the insert, not atomically: two racing creates may overshoot by one, which
    // the limit (an abuse bound, not a billing one) tolerates.
    if ((await this.inboxes.countActive(tenantId)) >= MAX_INBOXES_PER_TENANT) {
      throw new SealpostError('SP_ERR_INBOX_LIMIT_REACHED', `A tenant may have at most ${MAX_INBOXES_PER_TENANT} inboxes`);
    }
    for (let attempt = 1; ; attempt++) {
      const inbox: Inbox = { id: newId('inbox'), tenantId, token: newInboxToken(), dmarcPolicy: input.dmarcPolicy ?? 'accept', createdAt: this.now() };
      try {
        await this.inboxes.insert(inbox, (tx) =>
          this.audit(tx, { tenant: tenantId, actor, action: 'inbox.created', resource: inbox.id, details: { dmarc_policy: inbox.dmarcPolicy } }),
        );
        return inbox;
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= TOKEN_ATTEMPTS) throw err;
      }
    }
  }

  list(tenantId: string): Promise<Inbox[]> {
    return this.inboxes.listActive(tenantId);
  }

  async delete(tenantId: string, id: string, actor: AuditActor): Promise<void> {
    if (!(await this.inboxes.softDelete(tenantId, id, this.now(), (tx) => this.audit(tx, { tenant: tenantId, actor, action: 'inbox.deleted', resource: id })))) {
      throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such inbox');
    }
  }

  /** The inbox an SMTP recipient address reaches, or undefined (unknown, deleted, other domain). */
  async resolveRecipient(address: string): Promise<InboxRecipient | undefined> {
    const alias = parseAlias(address, this.domain);
    const aliased = alias && this.aliases.get(alias.name);
    if (alias && aliased) return { inbox: await aliased(), tag: alias.tag };
    const parsed = parseRecipient(address, this.domain);
    if (!parsed) return undefined;
    const inbox = await this.inboxes.findActiveByToken(parsed.token);
    return inbox ? { inbox, tag: parsed.tag } : undefined;
  }
}
