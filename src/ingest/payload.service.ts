import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import { JcsError } from '@sealpost/verify';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { GroupCommitter } from '../db/group-commit.js';
import type { Database } from '../db/schema.js';
import type { PreparedWrite } from '../db/prepared-write.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { findUnencodable, unrepresentable } from './json-body.js';
import type { AttachmentRef, Envelope, EnvelopeSource } from './envelope.js';
import type { AttachmentRecord, PayloadRepository } from './payload.repository.js';
import { newId } from '../crypto/ids.js';

/** Idempotency keys are honoured for this long (Stripe's convention, which customers know). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** What the ingest transaction calls besides storing: the outbox, and later receipts and audit. */
export interface IngestHooks {
  /** Writes the outbox rows (src/delivery/outbox.repository.ts enqueueDeliveries). */
  enqueue(tx: Kysely<Database>, input: { tenantId: string; payloadId: string; type: string; now: number }): Promise<number>;
  /**
   * Signs the `accepted` receipt before the transaction and returns it with the step that
   * stores it inside the transaction. Absent until signing is configured.
   */
  acceptedReceipt?(input: { tenantId: string; payloadId: string; bodySha256: string; now: number }): Promise<{ receipt: unknown; store: PreparedWrite }>;
  /** Called after commit, so an in-process worker sends at once instead of at its next poll. */
  afterCommit?(): void;
  /** Told how each ingest ended and how long it took (the metrics). */
  observe?(channel: EnvelopeSource['channel'], outcome: 'accepted' | 'replayed' | 'refused', seconds: number): void;
}

export interface IngestInput {
  readonly tenantId: string;
  readonly type: Envelope['type'];
  readonly source: EnvelopeSource;
  readonly data: Record<string, unknown>;
  /** Already streamed to the blob store; removed again if the payload is not stored. */
  readonly attachments: readonly AttachmentRecord[];
  readonly idempotency?: { readonly key: string; readonly requestSha256: string };
  /** More writes for the ingest transaction (the request's audit event); not run for a replay. */
  readonly alsoInTransaction?: (payloadId: string) => PreparedWrite;
}

export interface IngestResult {
  readonly id: string;
  readonly receipt: unknown;
  /** True when an earlier request with the same idempotency key already stored this payload. */
  readonly replayed: boolean;
}

/**
 * The envelope's canonical bytes, or a 400 (SMTP 550 5.6.0) naming the member of `data` that
 * canonical JSON cannot encode: a permanent refusal, since the same input fails every time.
 */
function canonicalEnvelope(envelope: Envelope): Buffer {
  try {
    return canonicalJson(envelope);
  } catch (err) {
    if (!(err instanceof JcsError)) throw err;
    const found = findUnencodable(envelope.data);
    throw found ? unrepresentable(found.pointer, found.reason) : unrepresentable('', err.message);
  }
}

export class PayloadService {
  constructor(
    private readonly committer: GroupCommitter,
    private readonly payloads: PayloadRepository,
    private readonly hooks: IngestHooks,
    private readonly attachmentUrl: (id: string) => string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores the payload, its attachment records and its outbox rows in one transaction and
   * only then answers (DESIGN §7): a 202 means all of it is committed.
   */
  async ingest(input: IngestInput): Promise<IngestResult> {
    if (!this.hooks.observe) return this.store(input);
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const result = await this.store(input);
      this.hooks.observe(input.source.channel, result.replayed ? 'replayed' : 'accepted', seconds());
      return result;
    } catch (err) {
      this.hooks.observe(input.source.channel, 'refused', seconds());
      throw err;
    }
  }

  private async store(input: IngestInput): Promise<IngestResult> {
    const id = newId('payload');
    const now = this.now();
    const envelope: Envelope = {
      id,
      type: input.type,
      tenant: input.tenantId,
      received_at: new Date(now).toISOString(),
      source: input.source,
      data: input.data,
      attachments: input.attachments.map(
        (a): AttachmentRef => ({ id: a.id, filename: a.meta.filename, content_type: a.meta.contentType, size: a.size, sha256: a.sha256, url: this.attachmentUrl(a.id) }),
      ),
    };
    const canonical = canonicalEnvelope(envelope);
    const bodySha256 = createHash('sha256').update(canonical).digest('hex');

    if (input.idempotency) {
      const earlier = await this.payloads.findIdempotent(input.tenantId, input.idempotency.key, now - IDEMPOTENCY_WINDOW_MS);
      if (earlier) return this.replay(earlier, input.idempotency.requestSha256);
    }
    // Everything is sealed and signed before the transaction, which then only writes rows:
    // short transactions, and no crypto while SQLite's single connection is held.
    const sealed = await this.payloads.seal(
      { id, tenantId: input.tenantId, type: input.type, channel: input.source.channel, size: canonical.length, bodySha256, receivedAt: now, canonicalEnvelope: canonical },
      input.attachments,
    );
    const accepted = await this.hooks.acceptedReceipt?.({ tenantId: input.tenantId, payloadId: id, bodySha256, now });
    const response = { id, receipt: accepted?.receipt ?? null };
    const idempotencyRow = input.idempotency
      ? await this.payloads.sealIdempotent({ tenantId: input.tenantId, key: input.idempotency.key, requestSha256: input.idempotency.requestSha256, payloadId: id, response, createdAt: now })
      : undefined;

    try {
      // Concurrent ingests share one commit (group commit): same durability, far fewer fsyncs. The
      // unit is named by the payload: a worker that claims its deliveries waits for this sync only.
      await this.committer.run(async (tx) => {
        await this.payloads.insert(tx, sealed);
        await this.hooks.enqueue(tx, { tenantId: input.tenantId, payloadId: id, type: input.type, now });
        await accepted?.store(tx);
        if (idempotencyRow) await this.payloads.insertIdempotent(tx, idempotencyRow, now - IDEMPOTENCY_WINDOW_MS);
        await input.alsoInTransaction?.(id)(tx);
      }, id);
    } catch (err) {
      // Two requests with one idempotency key raced: the loser answers like a retry would.
      if (input.idempotency && isUniqueViolation(err)) {
        const earlier = await this.payloads.findIdempotent(input.tenantId, input.idempotency.key, now - IDEMPOTENCY_WINDOW_MS);
        if (earlier) return this.replay(earlier, input.idempotency.requestSha256);
      }
      throw err;
    }
    this.hooks.afterCommit?.();
    return { ...response, replayed: false };
  }

  /**
   * Answers a retry as the earlier request was answered, and no sooner: the earlier request's
   * commit (its unit is named by its payload id) may still be waiting for the disk.
   */
  private async replay(earlier: { requestSha256: string; response: unknown }, requestSha256: string): Promise<IngestResult> {
    const response = earlier.response as { id: string; receipt: unknown };
    await this.committer.durableFor([response.id]);
    if (earlier.requestSha256 !== requestSha256) {
      throw new SealpostError('SP_ERR_INGEST_IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different request body');
    }
    return { id: response.id, receipt: response.receipt, replayed: true };
  }

  async get(tenantId: string, id: string): Promise<{ summary: Omit<Awaited<ReturnType<PayloadRepository['find']>> & object, 'canonicalEnvelope'>; envelope: Envelope }> {
    const found = await this.payloads.find(tenantId, id);
    if (!found) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such payload');
    const { canonicalEnvelope, ...summary } = found;
    return { summary, envelope: JSON.parse(canonicalEnvelope.toString('utf8')) as Envelope };
  }
}
