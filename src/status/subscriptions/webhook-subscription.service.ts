import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import { canonicalJson } from '../../crypto/canonical-json.js';
import { newId } from '../../crypto/ids.js';
import type { RecordCipher, RecordContext } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';
import type { Destination } from '../../delivery/destination.repository.js';
import type { DestinationInput } from '../../delivery/destination.service.js';
import { forwardHeaders } from '../../delivery/forwarded-request.js';
import type { SendOutcome, SendRequest } from '../../delivery/http-sender.js';
import type { RequestSigner } from '../../delivery/request-signer.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { IngestInput, IngestResult } from '../../ingest/payload.service.js';
import type { Logger } from '../../logging/logger.js';
import { CONFIRM_TTL_MS } from './subscription.service.js';
import type { WebhookSubscriptionRepository } from './webhook-subscription.repository.js';

/** The envelope type of a status notice: a subscriber's destination accepts this type and no other. */
export const STATUS_NOTICE_TYPE = 'status.notice';
/** The envelope type of the one confirmation event; never a payload, so no destination gets it but the subscriber's URL. */
export const CONFIRMATION_EVENT_TYPE = 'status.subscription_confirmation';
/**
 * The header of every notice that carries the subscriber's unsubscribe token: one payload goes
 * to every subscriber, so the per-subscriber token cannot be in the (shared, signed) body.
 */
export const UNSUBSCRIBE_HEADER = 'status-unsubscribe-token';
/** A receiver that does not answer the confirmation in this time gets none; subscribing again resends it. */
const CONFIRMATION_TIMEOUT_MS = 10_000;
/** An update that failed to ingest this often is dropped (the log says so). */
const MAX_INGEST_ATTEMPTS = 5;
/** Updates ingested per run of the `status-notices` job (every 10 s). */
const NOTICES_PER_RUN = 50;
const ACTOR: AuditActor = { type: 'system', id: 'status-subscriptions' };

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const token = (): string => randomBytes(32).toString('base64url');

function sealContext(id: string): RecordContext {
  return { tenant: '_system', table: 'status_webhook_subscribers', id, field: 'url' };
}

function invalidToken(): SealpostError {
  return new SealpostError('SP_ERR_STATUS_WEBHOOK_TOKEN_INVALID', 'This token is not valid (unknown, used or expired)');
}

export interface WebhookSubscriptionDeps {
  readonly cipher: RecordCipher;
  /** The deployment tenant's destinations: the URL rules (https, SSRF guard, own listeners), create and delete. */
  readonly destinations: {
    checkUrl(raw: string): Promise<string>;
    create(tenantId: string, input: DestinationInput, actor: AuditActor): Promise<Destination>;
    delete(tenantId: string, id: string, actor: AuditActor): Promise<void>;
  };
  /** The delivery engine's signer and guarded sender, for the one confirmation event. */
  readonly signer: RequestSigner;
  readonly sender: { send(request: SendRequest): Promise<SendOutcome> };
  /** The real ingest (src/ingest/payload.service.ts): stored encrypted, receipted, fanned out by the outbox. */
  readonly ingest: (input: IngestInput) => Promise<IngestResult>;
  readonly deploymentTenant: string;
  /**
   * Confirmed subscribers at most: below the deployment tenant's destination cap and one payload's
   * fan-out cap, with room left for the security team's own destinations (status-services.ts).
   */
  readonly maxSubscribers: number;
  readonly publicUrl: string;
  readonly now: () => number;
  readonly logger: Logger;
}

/**
 * Webhook subscriptions to the status page. Subscribing sends one signed confirmation event
 * (with a one-time token) to the URL and nothing else; only when the token comes back is the URL
 * made a destination of the deployment tenant, with event types exactly [`status.notice`], so it
 * never receives the tenant's other payloads (bug-bounty reports). Each incident update is
 * ingested once as a `status.notice` payload whose data is the signed update of status.json; the
 * outbox signs it with the deployment tenant's key and fans it out like any payload.
 */
export class WebhookSubscriptionService {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly repository: WebhookSubscriptionRepository,
    private readonly deps: WebhookSubscriptionDeps,
  ) {}

  /** Refuses a URL a destination could not have; otherwise the same outcome for a new, pending or confirmed URL. */
  async subscribe(rawUrl: string): Promise<void> {
    const url = await this.deps.destinations.checkUrl(rawUrl);
    const urlSha256 = sha256(url);
    const confirm = token();
    const now = this.deps.now();
    const existing = await this.repository.findByUrl(urlSha256);
    if (existing && existing.confirmedAt !== null) return;
    if (existing) {
      await this.repository.renewConfirmation(existing.id, sha256(confirm), now + CONFIRM_TTL_MS);
    } else {
      const id = newId('statusSubscriber', now);
      const urlSealed = await this.deps.cipher.encrypt(Buffer.from(url), sealContext(id));
      if (!(await this.repository.insert({ id, urlSealed, urlSha256, confirmTokenSha256: sha256(confirm), confirmExpiresAt: now + CONFIRM_TTL_MS, createdAt: now }))) return;
    }
    // Not awaited: the answer must not depend on (or wait for) the third party's receiver.
    const sending = this.sendConfirmation(url, confirm).finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  /** Confirmation events still being sent (for a clean shutdown and tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Makes the URL a destination for status notices; returns the unsubscribe token (also sent with every notice). */
  async confirm(confirmToken: string): Promise<string> {
    const confirmSha256 = sha256(confirmToken);
    const row = await this.repository.findConfirmable(confirmSha256, this.deps.now());
    if (!row) throw invalidToken();
    // Whoever holds many URLs cannot crowd out the security team's destinations nor push a notice
    // past the fan-out cap (which would refuse it for every subscriber): the list has a bound.
    if ((await this.repository.countConfirmed()) >= this.deps.maxSubscribers) {
      throw new SealpostError('SP_ERR_STATUS_WEBHOOK_FULL', 'This status page takes no more webhook subscribers; subscribe by e-mail or ask the operator');
    }
    const url = (await this.deps.cipher.decrypt(row.urlSealed, sealContext(row.id))).toString('utf8');
    const unsubscribe = token();
    // The URL is checked again here: its name may resolve elsewhere than a day ago.
    const destination = await this.deps.destinations.create(this.deps.deploymentTenant, { url, eventTypes: [STATUS_NOTICE_TYPE], headers: { [UNSUBSCRIBE_HEADER]: unsubscribe } }, ACTOR);
    const confirmed = await this.repository.markConfirmed(row.id, confirmSha256, { destinationId: destination.id, unsubscribeTokenSha256: sha256(unsubscribe), now: this.deps.now() });
    if (!confirmed) {
      // A concurrent confirmation with the same token won: this one leaves nothing behind.
      await this.deps.destinations.delete(this.deps.deploymentTenant, destination.id, ACTOR);
      throw invalidToken();
    }
    return unsubscribe;
  }

  async unsubscribe(unsubscribeToken: string): Promise<void> {
    const row = await this.repository.findByUnsubscribe(sha256(unsubscribeToken));
    if (!row) throw invalidToken();
    if (row.destinationId !== null) {
      try {
        await this.deps.destinations.delete(this.deps.deploymentTenant, row.destinationId, ACTOR);
      } catch (err) {
        // Deleted already (an earlier attempt that failed after it): finish the job.
        if (!(err instanceof SealpostError && err.code === 'SP_ERR_RESOURCE_NOT_FOUND')) throw err;
      }
    }
    await this.repository.delete(row.id);
  }

  /** Written in the update's transaction (src/status/incidents/incident.service.ts). */
  enqueue(tx: Kysely<Database>, updateId: string): Promise<void> {
    return this.repository.enqueue(tx, updateId, this.deps.now());
  }

  /**
   * The scheduler's `status-notices` job: ingests each queued update once; returns how many. It
   * also forgets pending URLs whose confirmation expired, so unconfirmed subscriptions never pile up.
   */
  async ingestPending(): Promise<number> {
    await this.repository.deleteExpired(this.deps.now());
    let ingested = 0;
    for (const notice of await this.repository.pending(MAX_INGEST_ATTEMPTS, NOTICES_PER_RUN)) {
      try {
        const result = await this.deps.ingest({
          tenantId: this.deps.deploymentTenant,
          type: STATUS_NOTICE_TYPE,
          source: { channel: 'system', origin: 'status-page' },
          data: JSON.parse(notice.document) as Record<string, unknown>,
          attachments: [],
          // A crash between the ingest and its mark ingests nothing twice.
          idempotency: { key: `status-notice:${notice.updateId}`, requestSha256: sha256(notice.document) },
          alsoInTransaction: (payloadId) => this.repository.markIngested(notice.updateId, payloadId),
        });
        // A replay ran no transaction of ours: mark it now.
        if (result.replayed) await this.repository.setIngested(notice.updateId, result.id);
        ingested++;
      } catch (err) {
        const dropped = notice.attempts + 1 >= MAX_INGEST_ATTEMPTS;
        this.deps.logger.warn({ err, update: notice.updateId, dropped }, dropped ? 'status notice dropped after repeated ingest failures' : 'status notice not ingested; retried at the next run');
        await this.repository.markFailed(notice.updateId);
      }
    }
    return ingested;
  }

  private async sendConfirmation(url: string, confirmToken: string): Promise<void> {
    const sentAt = this.deps.now();
    const webhookId = newId('payload', sentAt);
    const tenantId = this.deps.deploymentTenant;
    const body = canonicalJson({
      id: webhookId,
      type: CONFIRMATION_EVENT_TYPE,
      tenant: tenantId,
      received_at: new Date(sentAt).toISOString(),
      source: { channel: 'system', origin: 'status-page' },
      data: {
        message: 'Someone (we hope you) asked for this deployment\'s status notices at this URL. To receive them, POST {"token": "<token>"} to confirm_url within 24 hours. Without it, nothing more is sent.',
        token: confirmToken,
        confirm_url: `${this.deps.publicUrl}/status/subscriptions/webhook/confirm`,
        expires_at: new Date(sentAt + CONFIRM_TTL_MS).toISOString(),
      },
      attachments: [],
    });
    try {
      const timestamp = Math.floor(sentAt / 1000);
      const signed = await this.deps.signer.sign({ tenantId, webhookId, timestamp, body });
      const outcome = await this.deps.sender.send({ url, headers: forwardHeaders({ webhookId, timestamp, custom: {}, signed }), body, timeoutMs: CONFIRMATION_TIMEOUT_MS });
      // The URL stays out of the log (it may hold a receiver's secret path).
      if (outcome.errorClass !== null) this.deps.logger.info({ webhook_id: webhookId, status: outcome.statusCode, error_class: outcome.errorClass }, 'status webhook confirmation not accepted by the receiver');
    } catch (err) {
      this.deps.logger.warn({ err, webhook_id: webhookId }, 'status webhook confirmation could not be sent');
    }
  }
}
