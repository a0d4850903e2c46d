import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../logging/logger.js';
import type { OutboundMailer } from '../../mail/outbound-mailer.js';
import type { SubscriptionRepository } from './subscription.repository.js';

/** A confirmation link older than this is dead; subscribing again sends a new one. */
export const CONFIRM_TTL_MS = 24 * 3_600_000;
/** A notice that failed this often is dropped (the mail relay refuses it for good). */
const MAX_NOTICE_ATTEMPTS = 5;
/** Notices per run of the job; the rest wait for the next run (every 10 s). */
const NOTICES_PER_RUN = 200;
/** 32 random bytes, base64url: a token no one guesses. */
export const TOKEN_PATTERN = '^[A-Za-z0-9_-]{43}$';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const token = (): string => randomBytes(32).toString('base64url');

function sealContext(id: string): RecordContext {
  return { tenant: '_system', table: 'status_subscribers', id, field: 'contact' };
}

interface Contact {
  readonly email: string;
  readonly unsubscribe: string;
}

/**
 * E-mail subscriptions to the status page, with double opt-in: subscribing mails a one-time
 * confirmation link, and only a confirmed address gets notices. The answer to a subscription is
 * the same whether the address is new, pending or confirmed, so it tells nobody who subscribed.
 * Notices are queued with each update (status_notices) and sent by the scheduler's job; each
 * carries its unsubscribe link.
 */
export class SubscriptionService {
  constructor(
    private readonly repository: SubscriptionRepository,
    private readonly deps: { cipher: RecordCipher; mailer: OutboundMailer; publicUrl: string; now: () => number; logger: Logger },
  ) {}

  async subscribe(email: string): Promise<void> {
    const address = email.trim().toLowerCase();
    const emailSha256 = sha256(address);
    const confirm = token();
    const now = this.deps.now();
    const existing = await this.repository.findByEmail(emailSha256);
    if (existing?.confirmedAt !== null && existing !== undefined) return;
    if (existing) {
      await this.repository.renewConfirmation(existing.id, sha256(confirm), now + CONFIRM_TTL_MS);
    } else {
      const id = newId('statusSubscriber', now);
      const unsubscribe = token();
      const contact: Contact = { email: address, unsubscribe };
      const contactSealed = await this.deps.cipher.encrypt(Buffer.from(JSON.stringify(contact)), sealContext(id));
      await this.repository.insert({ id, contactSealed, emailSha256, confirmTokenSha256: sha256(confirm), confirmExpiresAt: now + CONFIRM_TTL_MS, unsubscribeTokenSha256: sha256(unsubscribe), createdAt: now });
    }
    await this.deps.mailer.send({
      to: address,
      subject: 'Confirm your subscription to status updates',
      text: [
        'Someone (we hope you) asked to receive this deployment\'s status updates at this address.',
        '',
        `Confirm within 24 hours: ${this.link('confirm', confirm)}`,
        '',
        'If it was not you, ignore this mail: nothing will be sent without confirmation.',
      ].join('\n'),
    });
  }

  confirm(confirmToken: string): Promise<boolean> {
    return this.repository.confirm(sha256(confirmToken), this.deps.now());
  }

  unsubscribe(unsubscribeToken: string): Promise<boolean> {
    return this.repository.unsubscribe(sha256(unsubscribeToken));
  }

  /** Written in the update's transaction (src/status/incidents/incident.service.ts). */
  enqueue(tx: Kysely<Database>, updateId: string): Promise<void> {
    return this.repository.enqueue(tx, updateId, this.deps.now(), () => newId('statusNotice'));
  }

  /** The scheduler's `status-notices` job: sends what is queued; returns how many were sent. */
  async sendPending(): Promise<number> {
    if (!this.deps.mailer.configured) return 0;
    let sent = 0;
    for (const notice of await this.repository.pending(MAX_NOTICE_ATTEMPTS, NOTICES_PER_RUN)) {
      try {
        const contact = JSON.parse((await this.deps.cipher.decrypt(notice.contactSealed, sealContext(notice.subscriberId))).toString('utf8')) as Contact;
        const update = JSON.parse(notice.document) as { title: string; state: string; message: string; posted_at: string };
        await this.deps.mailer.send({
          to: contact.email,
          subject: `[${update.state}] ${update.title}`,
          text: [
            `${update.title}: ${update.state}`,
            `Posted ${update.posted_at}`,
            '',
            update.message,
            '',
            `Status page: ${this.deps.publicUrl}/status (each update is signed; see status.json)`,
            `Unsubscribe: ${this.link('unsubscribe', contact.unsubscribe)}`,
          ].join('\n'),
        });
        await this.repository.markSent(notice.id, this.deps.now());
        sent++;
      } catch (err) {
        this.deps.logger.warn({ err, notice: notice.id }, 'status notice not sent; retried at the next run');
        await this.repository.markFailed(notice.id);
      }
    }
    return sent;
  }

  private link(kind: 'confirm' | 'unsubscribe', value: string): string {
    return `${this.deps.publicUrl}/status/subscriptions/${kind}?token=${value}`;
  }
}
