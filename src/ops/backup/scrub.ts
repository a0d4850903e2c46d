import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { canonicalJson } from '../../crypto/canonical-json.js';
import type { RecordCipher } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';
import { attachmentBlobContext } from '../../ingest/multipart-upload.js';
import { attachmentContext, envelopeContext, type AttachmentMeta } from '../../ingest/payload.repository.js';
import { rawMessageBlobContext, rawMessageBlobKey, rawMessageRefOf } from '../../ingest/smtp/raw-message.js';
import type { EncryptedBlobStore } from '../../storage/encrypted-blob-store.js';

/*
 * Production data outside production, made safe (`backup restore --scrub`): every payload's
 * content, every e-mail body and header value, every attachment and raw e-mail is replaced by
 * synthetic values of the same shape and size: strings by random letters of the same UTF-8
 * length, numbers by random numbers of as many digits, blobs by random bytes of the same size.
 * Ids, counts, timestamps, types and JSON keys stay, so the copy behaves like production for
 * load and debugging. Hashes stored beside the content (body_sha256, attachment sha256) are
 * recomputed; receipts keep the production hashes they signed, so they verify as signatures
 * but no longer match the (synthetic) bodies.
 */

/** Structural fields of an e-mail's data that name rows, not content: kept as they are. */
const EMAIL_STRUCTURE = new Set(['id', 'inbox_id', 'disposition']);
/** Payloads rewritten per batch. */
const BATCH = 500;

export interface ScrubDeps {
  readonly db: Kysely<Database>;
  readonly cipher: RecordCipher;
  readonly blobs: EncryptedBlobStore;
}

export interface ScrubResult {
  readonly payloads: number;
  readonly attachments: number;
  readonly rawMessages: number;
  readonly attemptResponses: number;
  /** Payloads of tenants whose root key is gone (erased): left as they are, unreadable anywhere. */
  readonly erasedPayloads: number;
}

// A synthetic value never equals the original: a short value (one letter, one digit) would
// otherwise come out unchanged now and then, and a scrubbed copy would carry it.
function syntheticString(value: string): string {
  const length = Buffer.byteLength(value, 'utf8');
  if (length === 0) return '';
  for (;;) {
    let out = '';
    for (const byte of randomBytes(length)) out += String.fromCharCode(97 + (byte % 26));
    if (out !== value) return out;
  }
}

function syntheticNumber(value: number): number {
  if (!Number.isFinite(value)) return value;
  const digits = Math.max(1, String(Math.trunc(Math.abs(value))).length);
  const sign = value < 0 ? -1 : 1;
  const decimals = Number.isInteger(value) ? 0 : Math.min(6, (String(value).split('.')[1] ?? '').length);
  for (;;) {
    const integer = digits === 1 ? randomInt(0, 10) : randomInt(10 ** (digits - 1), Math.min(10 ** digits, 2 ** 47));
    const out = decimals === 0 ? sign * integer : sign * Number(`${integer}.${String(randomInt(0, 10 ** decimals)).padStart(decimals, '0')}`);
    if (out !== value) return out;
  }
}

/** A value of the same shape with no original leaf: keys kept, strings and numbers replaced. */
export function synthesize(value: unknown, keep: (key: string) => boolean = () => false, key = ''): unknown {
  if (typeof value === 'string') return keep(key) ? value : syntheticString(value);
  if (typeof value === 'number') return keep(key) ? value : syntheticNumber(value);
  if (Array.isArray(value)) return value.map((v) => synthesize(v, keep, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, synthesize(v, keep, k)]));
  }
  return value;
}

function randomStream(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, 64 * 1024);
      left -= n;
      this.push(randomBytes(n));
    },
  });
}

interface Envelope {
  type: string;
  tenant: string;
  data: Record<string, unknown>;
  attachments: { id: string; filename: string; size: number; sha256: string }[];
  [key: string]: unknown;
}

/** Scrubs a restored database and its blob store in place (see above). */
export async function scrubRestored(deps: ScrubDeps): Promise<ScrubResult> {
  const { db, cipher, blobs } = deps;
  let payloads = 0;
  let attachments = 0;
  let rawMessages = 0;
  let erasedPayloads = 0;
  let after = '';
  for (;;) {
    const batch = await db.selectFrom('payloads').select(['id', 'tenant_id', 'envelope_sealed']).where('id', '>', after).orderBy('id').limit(BATCH).execute();
    if (batch.length === 0) break;
    for (const row of batch) {
      const opened = await openEnvelope(cipher, row);
      if (opened === 'erased') {
        erasedPayloads++;
        continue;
      }
      const envelope = opened;
      const email = envelope.type === 'email.received';
      const raw = rawMessageRefOf(envelope);
      const data = synthesize(envelope.data, email ? (k) => EMAIL_STRUCTURE.has(k) : undefined) as Record<string, unknown>;
      if (raw) {
        const stored = await blobs.putEncrypted(rawMessageBlobKey(row.tenant_id, raw.id), randomStream(raw.size), rawMessageBlobContext(row.tenant_id, raw.id), row.tenant_id);
        data.raw_message = { id: raw.id, size: stored.size, sha256: stored.sha256 };
        rawMessages++;
      }
      const scrubbedAttachments = [];
      for (const a of envelope.attachments ?? []) {
        const record = await db.selectFrom('attachments').select(['blob_key', 'meta_sealed']).where('tenant_id', '=', row.tenant_id).where('id', '=', a.id).executeTakeFirst();
        const key = record?.blob_key;
        const stored = key ? await blobs.putEncrypted(key, randomStream(a.size), attachmentBlobContext(row.tenant_id, a.id), row.tenant_id) : { size: a.size, sha256: createHash('sha256').digest('hex') };
        const filename = syntheticString(a.filename);
        scrubbedAttachments.push({ ...a, filename, sha256: stored.sha256 });
        if (record) {
          const meta = JSON.parse((await cipher.decrypt(Buffer.from(record.meta_sealed), attachmentContext(row.tenant_id, a.id))).toString('utf8')) as AttachmentMeta;
          await db
            .updateTable('attachments')
            .set({ sha256: stored.sha256, meta_sealed: await cipher.encryptJson({ ...meta, filename }, attachmentContext(row.tenant_id, a.id)) })
            .where('tenant_id', '=', row.tenant_id)
            .where('id', '=', a.id)
            .execute();
        }
        attachments++;
      }
      const canonical = canonicalJson({ ...envelope, data, attachments: scrubbedAttachments });
      await db
        .updateTable('payloads')
        .set({
          envelope_sealed: await cipher.encrypt(canonical, envelopeContext(row.tenant_id, row.id)),
          body_sha256: createHash('sha256').update(canonical).digest('hex'),
          size: canonical.length,
        })
        .where('tenant_id', '=', row.tenant_id)
        .where('id', '=', row.id)
        .execute();
      payloads++;
    }
    after = batch[batch.length - 1]?.id ?? after;
  }
  // What destinations answered may echo the payload: dropped, not synthesized.
  const cleared = await db.updateTable('delivery_attempts').set({ response_sealed: null }).where('response_sealed', 'is not', null).executeTakeFirst();
  return { payloads, attachments, rawMessages, attemptResponses: Number(cleared.numUpdatedRows), erasedPayloads };
}

/**
 * A payload's envelope, or 'erased' when its tenant's root key is not in the restoring keyring
 * (crypto-shredded since the snapshot): nothing of it can be read, so there is nothing to scrub,
 * and a synthetic copy under a new key would bring the tenant back.
 */
async function openEnvelope(cipher: RecordCipher, row: { id: string; tenant_id: string; envelope_sealed: Uint8Array }): Promise<Envelope | 'erased'> {
  try {
    return JSON.parse((await cipher.decrypt(Buffer.from(row.envelope_sealed), envelopeContext(row.tenant_id, row.id))).toString('utf8')) as Envelope;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SP_ERR_TENANT_ERASED') return 'erased';
    throw error;
  }
}
