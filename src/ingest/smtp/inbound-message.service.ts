import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { newId } from '../../crypto/ids.js';
import type { InboxDmarcPolicy } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { EncryptedBlobStore } from '../../storage/encrypted-blob-store.js';
import { attachmentBlobContext, attachmentBlobKey, removeBlobs } from '../multipart-upload.js';
import type { AttachmentRecord } from '../payload.repository.js';
import type { PayloadService } from '../payload.service.js';
import { emailData, type AttachmentInfo, type EmailData } from './email-data.js';
import { MimeParseError, parseEmail, type AttachmentPart, type ParsedEmail } from './email.parser.js';
import { rawMessageBlobContext, rawMessageBlobKey, type RawMessageRef } from './raw-message.js';
import type { DnsResolver } from './dns-resolver.js';
import { UNAVAILABLE_AUTH, authenticateSender, type SenderAuth } from './sender-auth.js';
import { withTimeout } from '../../util/timeout.js';

/** The accepted part of an SMTP transaction: who sent what to which inboxes of one tenant. */
export interface InboundTransaction {
  readonly tenantId: string;
  readonly dmarcPolicy: InboxDmarcPolicy;
  readonly recipients: readonly InboundRecipient[];
  /** MAIL FROM; empty for the null sender. */
  readonly mailFrom: string;
  readonly helo: string;
  readonly remoteIp: string;
  /** Negotiated protocol, `TLSv1.3` or `TLSv1.2`. */
  readonly tls: string;
}

export interface InboundRecipient {
  readonly address: string;
  readonly inboxId: string;
  readonly tag: string | null;
}

/** The message stream smtp-server hands to onData. */
export interface MessageStream extends Readable {
  readonly sizeExceeded: boolean;
}

export interface InboundMessageDeps {
  readonly blobs: EncryptedBlobStore;
  readonly payloads: PayloadService;
  readonly resolver: DnsResolver;
  /** Our host name, for ARC's Authentication-Results. */
  readonly mta: string;
  /** Longest `text`/`html` kept in the envelope, in characters. */
  readonly maxTextChars: number;
  /** How long SPF/DKIM/DMARC may take once the message is in; after that they count as `temperror`. */
  readonly authTimeoutMs: number;
  /** Called after a new message is committed (not for a replay); must not throw. */
  readonly onAccepted?: (message: AcceptedMessage) => void;
}

/** What a listener learns of a message once it is stored (never the raw bytes). */
export interface AcceptedMessage {
  readonly tenantId: string;
  readonly payloadId: string;
  readonly mailFrom: string;
  readonly auth: SenderAuth;
  readonly email: ParsedEmail;
  /** Content types of the attachments, in message order (PGP/MIME shows as application/pgp-encrypted). */
  readonly attachmentTypes: readonly string[];
}

type FailureKind = 'size' | 'parse' | 'store' | 'connection';

/**
 * Turns one SMTP message into an `email.received` payload. The message is read once and split
 * three ways as it arrives: to the encrypted blob store (the raw message), through mailparser
 * (attachments streamed to the blob store, SHA-256 on the way), and through mailauth. Only when
 * all three are done, the inbox policy allows it and PayloadService has committed the payload with
 * its outbox rows does it resolve (the caller answers 250). Whenever it rejects, every blob written
 * for the message has been removed first.
 */
export class InboundMessageService {
  constructor(private readonly deps: InboundMessageDeps) {}

  async receive(message: MessageStream, tx: InboundTransaction): Promise<{ id: string; replayed: boolean }> {
    const { blobs } = this.deps;
    const rawId = newId('rawMessage');
    const written: AttachmentRecord[] = [];
    const attachments: AttachmentRecord[] = [];
    const attachmentInfo: AttachmentInfo[] = [];

    const rawBranch = new PassThrough();
    const mimeBranch = new PassThrough();
    const authBranch = new PassThrough();
    // abort() destroys the branches with its cause, possibly before their consumer has attached
    // (putEncrypted first awaits a data key): an 'error' nobody listens for would be an uncaught
    // exception. The cause is kept in `failure`; a late consumer still sees a destroyed stream.
    for (const branch of [rawBranch, mimeBranch, authBranch]) branch.on('error', ignoreBranchError);
    let failure: { kind: FailureKind; error: unknown } | undefined;
    const abort = (kind: FailureKind, error: unknown): void => {
      if (failure) return;
      failure = { kind, error };
      message.unpipe();
      rawBranch.destroy(error instanceof Error ? error : new Error(String(error)));
      mimeBranch.destroy(error instanceof Error ? error : new Error(String(error)));
      // mailauth does not settle on a destroyed input; a clean end lets it finish (its verdict is discarded).
      authBranch.end();
      // smtp-server replies only once the message has been read to its end.
      message.resume();
    };

    const storeAttachment = async (part: AttachmentPart): Promise<void> => {
      const id = newId('attachment');
      const record: AttachmentRecord = { id, payloadId: '', size: 0, sha256: '', blobKey: attachmentBlobKey(tx.tenantId, id), meta: { filename: part.filename, contentType: part.contentType } };
      // Recorded before the upload starts, so a failure midway still removes this blob.
      written.push(record);
      // Stores may finish out of order; the envelope lists attachments in message order.
      const index = attachmentInfo.length;
      attachmentInfo.push({ id, disposition: part.disposition, content_id: part.contentId });
      // A failure here ends the parse, which then rejects with it (see below).
      const stored = await blobs.putEncrypted(record.blobKey, part.content, attachmentBlobContext(tx.tenantId, id), tx.tenantId);
      attachments[index] = { ...record, size: stored.size, sha256: stored.sha256 };
    };

    const rawRecord: AttachmentRecord = { id: rawId, payloadId: '', size: 0, sha256: '', blobKey: rawMessageBlobKey(tx.tenantId, rawId), meta: { filename: '', contentType: 'message/rfc822' } };
    written.push(rawRecord);
    const rawStored = blobs.putEncrypted(rawRecord.blobKey, rawBranch, rawMessageBlobContext(tx.tenantId, rawId), tx.tenantId).catch((err: unknown) => {
      abort('store', err);
      throw err;
    });
    const parsed = parseEmail(mimeBranch, { maxTextChars: this.deps.maxTextChars, storeAttachment }).catch((err: unknown) => {
      abort(err instanceof MimeParseError ? 'parse' : 'store', err);
      throw err;
    });
    const senderAuth = authenticateSender(authBranch, {
      ip: tx.remoteIp,
      helo: tx.helo,
      mailFrom: tx.mailFrom,
      mta: this.deps.mta,
      resolver: this.deps.resolver,
    });
    const received = finished(message).catch((err: unknown) => abort('connection', err));

    message.pipe(rawBranch);
    message.pipe(mimeBranch);
    message.pipe(authBranch);
    const checkSize = (): void => {
      if (message.sizeExceeded) abort('size', new SealpostError('SP_ERR_SMTP_MESSAGE_TOO_LARGE', 'Message exceeds the maximum size'));
    };
    // Checked as the data arrives, so an over-size message is not stored up to its end.
    message.on('data', checkSize);

    const [raw, email] = await Promise.allSettled([rawStored, parsed, received]);
    checkSize();
    if (failure || raw.status === 'rejected' || email.status === 'rejected') {
      await removeBlobs(blobs, written);
      throw failureReply(failure);
    }

    const auth = await withTimeout(senderAuth, this.deps.authTimeoutMs, () => UNAVAILABLE_AUTH);
    if (tx.dmarcPolicy === 'reject' && auth.dmarc === 'fail') {
      await removeBlobs(blobs, written);
      throw new SealpostError('SP_ERR_SMTP_DMARC_REJECTED', 'Message rejected: it fails DMARC and this inbox refuses such mail', {
        logDetail: { tenant: tx.tenantId, auth },
      });
    }

    const rawRef: RawMessageRef = { id: rawId, size: raw.value.size, sha256: raw.value.sha256 };
    // A client that lost our 250 sends the same bytes again: that is the same message, not a new one.
    const requestSha256 = createHash('sha256')
      .update([rawRef.sha256, tx.mailFrom, ...tx.recipients.map((r) => r.address.toLowerCase()).sort()].join('\n'))
      .digest('hex');
    try {
      const result = await this.deps.payloads.ingest({
        tenantId: tx.tenantId,
        type: 'email.received',
        source: { channel: 'smtp', remote_ip: tx.remoteIp, tls: tx.tls, auth: { ...auth } },
        data: { ...emailData(email.value, smtpOf(tx), rawRef, attachmentInfo) },
        attachments,
        // The space keeps these keys apart from every HTTP Idempotency-Key (visible ASCII only).
        idempotency: { key: `smtp ${requestSha256}`, requestSha256 },
      });
      if (result.replayed) await removeBlobs(blobs, written);
      else
        this.deps.onAccepted?.({
          tenantId: tx.tenantId,
          payloadId: result.id,
          mailFrom: tx.mailFrom,
          auth,
          email: email.value,
          attachmentTypes: attachments.map((a) => a.meta.contentType),
        });
      return { id: result.id, replayed: result.replayed };
    } catch (err) {
      await removeBlobs(blobs, written);
      throw err;
    }
  }
}

function ignoreBranchError(): void {}

function smtpOf(tx: InboundTransaction): EmailData['smtp'] {
  return { mail_from: tx.mailFrom, helo: tx.helo, recipients: tx.recipients.map((r) => ({ address: r.address, inbox_id: r.inboxId, tag: r.tag })) };
}

function failureReply(failure: { kind: FailureKind; error: unknown } | undefined): unknown {
  if (!failure) return new Error('message processing failed');
  if (failure.kind === 'parse') {
    return new SealpostError('SP_ERR_SMTP_MESSAGE_MALFORMED', 'Message could not be parsed', { cause: failure.error, logDetail: { reason: (failure.error as Error).message } });
  }
  return failure.error;
}
