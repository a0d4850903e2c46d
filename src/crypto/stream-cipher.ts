import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { SealpostError, isSealpostError } from '../errors/sealpost-error.js';
import type { DataKeySource } from './data-key-source.js';

/*
 * Streaming authenticated encryption of blobs: Tink's AES-GCM-HKDF streaming AEAD, which is
 * the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption
 * and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015) over AES-256-GCM.
 *
 *   header  = "SPB1" | dek id length (1) | dek id (ASCII) | salt (16) | nonce prefix (7)
 *   key     = HKDF-SHA256(ikm = data key, salt, info = "sealpost-blob-v1" 0x00 context), 32 bytes
 *   segment i = AES-256-GCM(key, nonce = prefix ‖ uint32be(i) ‖ last flag, plaintext_i) ‖ tag (16)
 *
 * Every header field is bound without AAD: the id selects the data key, salt and context feed
 * the key derivation, the prefix feeds every nonce, and the magic is a checked constant. The
 * counter in the nonce rejects reordering; the last flag rejects truncation at a segment
 * boundary and extension after the final segment.
 */

const MAGIC = Buffer.from('SPB1', 'ascii');
const SALT_BYTES = 16;
const NONCE_PREFIX_BYTES = 7;
const TAG_BYTES = 16;
/** Plaintext per segment. Both directions hold at most one segment (plus one incoming chunk). */
export const SEGMENT_PLAINTEXT_BYTES = 64 * 1024;
const SEGMENT_CIPHERTEXT_BYTES = SEGMENT_PLAINTEXT_BYTES + TAG_BYTES;
/** The segment counter is a uint32 in the nonce; one more segment would repeat a nonce. */
const MAX_SEGMENTS = 2 ** 32;
/** The header stores the id length in one byte. */
const MAX_DEK_ID_BYTES = 255;
const FIXED_HEADER_BYTES = MAGIC.length + 1 + SALT_BYTES + NONCE_PREFIX_BYTES;
const HKDF_INFO_PREFIX = Buffer.from('sealpost-blob-v1\0', 'ascii');
const DATA_KEY_BYTES = 32;

/** Bytes of ciphertext for `plainLength` bytes of plaintext under a data key id of `dekIdLength` ASCII bytes. */
export function ciphertextLength(plainLength: number, dekIdLength: number): number {
  const segments = Math.max(1, Math.ceil(plainLength / SEGMENT_PLAINTEXT_BYTES));
  return FIXED_HEADER_BYTES + dekIdLength + plainLength + segments * TAG_BYTES;
}

/**
 * Encrypts a plaintext stream under the current data key of `owner` (a tenant id: that tenant's
 * own keys), bound to `context` (for example the JSON of `[tenant, kind, id]`): a blob decrypted
 * under any other context fails.
 */
export async function createEncryptStream(keys: DataKeySource, context: string, owner?: string): Promise<Transform> {
  const dataKey = await keys.currentDataKey(owner);
  const id = Buffer.from(dataKey.id, 'ascii');
  if (id.length === 0 || id.length > MAX_DEK_ID_BYTES || !isPrintableAscii(dataKey.id)) {
    throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'data key id does not fit the blob header' } });
  }
  const salt = randomBytes(SALT_BYTES);
  const prefix = randomBytes(NONCE_PREFIX_BYTES);
  const key = deriveBlobKey(dataKey.key, salt, context);
  const queue = new ByteQueue();
  let index = 0;

  const seal = (plaintext: Buffer, last: boolean): Buffer => {
    if (index >= MAX_SEGMENTS) {
      throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'blob exceeds the segment counter' } });
    }
    const cipher = createCipheriv('aes-256-gcm', key, segmentNonce(prefix, index++, last), { authTagLength: TAG_BYTES });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        queue.push(chunk);
        // Strictly more than one segment: a full segment may still turn out to be the last one.
        while (queue.length > SEGMENT_PLAINTEXT_BYTES) this.push(seal(queue.take(SEGMENT_PLAINTEXT_BYTES), false));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        // Empty plaintext still gets one (empty) final segment, so an empty blob is authenticated too.
        this.push(seal(queue.take(queue.length), true));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  stream.push(Buffer.concat([MAGIC, Buffer.from([id.length]), id, salt, prefix]));
  return stream;
}

/**
 * Decrypts what `createEncryptStream` produced. Emits only plaintext of segments whose tag
 * verified; any tampering, truncation, extension, reordering, wrong key or wrong context errors
 * the stream with `SP_ERR_CRYPTO_DECRYPT_FAILED`. Segments before the failure have already
 * been emitted (STREAM is online), so a consumer must treat the whole output as void on error.
 */
export function createDecryptStream(keys: DataKeySource, context: string, owner?: string): Transform {
  const queue = new ByteQueue();
  let header: { id: string; salt: Buffer; prefix: Buffer } | undefined;
  let key: KeyObject | undefined;
  let index = 0;

  /** Parses the header once it is complete; undefined while more bytes are needed. */
  const parseHeader = (): { id: string; salt: Buffer; prefix: Buffer } | undefined => {
    if (queue.length < MAGIC.length + 1) return undefined;
    const start = queue.peek(MAGIC.length + 1);
    if (!start.subarray(0, MAGIC.length).equals(MAGIC)) throw decryptFailed('not a sealed blob');
    const idLength = start[MAGIC.length] ?? 0;
    if (idLength === 0) throw decryptFailed('malformed header');
    if (queue.length < FIXED_HEADER_BYTES + idLength) return undefined;
    const bytes = queue.take(FIXED_HEADER_BYTES + idLength);
    let offset = MAGIC.length + 1;
    const id = bytes.subarray(offset, (offset += idLength)).toString('latin1');
    if (!isPrintableAscii(id)) throw decryptFailed('malformed header');
    const salt = bytes.subarray(offset, (offset += SALT_BYTES));
    const prefix = bytes.subarray(offset, offset + NONCE_PREFIX_BYTES);
    return { id, salt, prefix };
  };

  const open = (segment: Buffer, last: boolean): Buffer => {
    if (!key || !header) throw decryptFailed('missing header');
    if (segment.length < TAG_BYTES) throw decryptFailed('truncated');
    if (index >= MAX_SEGMENTS) throw decryptFailed('too many segments');
    const nonce = segmentNonce(header.prefix, index++, last);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(segment.subarray(segment.length - TAG_BYTES));
      const plaintext = decipher.update(segment.subarray(0, segment.length - TAG_BYTES));
      // final() checks the tag; nothing of this segment is released before it returns.
      decipher.final();
      return plaintext;
    } catch (cause) {
      throw decryptFailed('segment authentication failed', cause);
    }
  };

  const drain = (stream: Transform, atEnd: boolean): void => {
    // A full segment is decrypted as non-final only once a byte beyond it proves more follows.
    while (queue.length > SEGMENT_CIPHERTEXT_BYTES) {
      const plaintext = open(queue.take(SEGMENT_CIPHERTEXT_BYTES), false);
      if (plaintext.length > 0) stream.push(plaintext);
    }
    if (atEnd) {
      const plaintext = open(queue.take(queue.length), true);
      if (plaintext.length > 0) stream.push(plaintext);
    }
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        queue.push(chunk);
        if (key) {
          drain(this, false);
          return callback();
        }
        // Until the key arrives, the stream does not call transform again.
        header = parseHeader();
        if (!header) return callback();
        const wanted = header;
        keys.dataKeyById(wanted.id, owner).then(
          (dataKey) => {
            try {
              key = deriveBlobKey(dataKey.key, wanted.salt, context);
              drain(this, false);
              callback();
            } catch (error) {
              callback(error as Error);
            }
          },
          (error: unknown) => callback(keyLookupFailed(error)),
        );
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        if (!key) throw decryptFailed('truncated header');
        drain(this, true);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

function deriveBlobKey(dataKey: Buffer, salt: Buffer, context: string): KeyObject {
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'data key is not 32 bytes' } });
  }
  const info = Buffer.concat([HKDF_INFO_PREFIX, Buffer.from(context, 'utf8')]);
  const raw = Buffer.from(hkdfSync('sha256', dataKey, salt, info, DATA_KEY_BYTES));
  const key = createSecretKey(raw);
  raw.fill(0);
  return key;
}

/** Tink's segment nonce: prefix (7) ‖ uint32be(segment number) ‖ 1 for the last segment, else 0. */
function segmentNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_PREFIX_BYTES + 5);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_BYTES);
  nonce[NONCE_PREFIX_BYTES + 4] = last ? 1 : 0;
  return nonce;
}

function isPrintableAscii(value: string): boolean {
  return /^[\x21-\x7e]+$/.test(value);
}

function decryptFailed(reason: string, cause?: unknown): SealpostError {
  // Deliberately one message for every failure: which check failed stays in the log.
  return new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'Stored data could not be decrypted', { cause, logDetail: { reason } });
}

/**
 * The key source decides what an unknown id means (RecordCipher reports DECRYPT_FAILED, an
 * unreachable KMS KEY_UNAVAILABLE); anything else it throws is not evidence of tampering.
 */
function keyLookupFailed(error: unknown): SealpostError {
  if (isSealpostError(error)) return error;
  return new SealpostError('SP_ERR_CRYPTO_KEY_UNAVAILABLE', 'Encryption key unavailable', { cause: error });
}

/** A FIFO of byte chunks, so holding a segment's worth of input costs no repeated copying. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(n, this.length)).subarray(0, n);
  }

  take(n: number): Buffer {
    const parts: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const head = this.chunks[0];
      if (!head) break;
      if (head.length <= needed) {
        parts.push(head);
        this.chunks.shift();
        needed -= head.length;
      } else {
        parts.push(head.subarray(0, needed));
        this.chunks[0] = head.subarray(needed);
        needed = 0;
      }
    }
    this.length -= n - needed;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}
