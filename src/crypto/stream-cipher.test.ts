import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SealpostError } from '../errors/sealpost-error.js';
import type { DataKey, DataKeySource } from './data-key-source.js';
import { SEGMENT_PLAINTEXT_BYTES, ciphertextLength, createDecryptStream, createEncryptStream } from './stream-cipher.js';

const S = SEGMENT_PLAINTEXT_BYTES;
const CT_SEGMENT = S + 16;
const CONTEXT = JSON.stringify(['ten_a', 'attachment', 'att_1']);

/** Unknown ids fail the way RecordCipher fails them. */
class MemoryKeys implements DataKeySource {
  readonly keys = new Map<string, Buffer>();
  constructor(public currentId = 'dek_test') {
    this.keys.set(currentId, randomBytes(32));
  }
  async currentDataKey(): Promise<DataKey> {
    return this.dataKeyById(this.currentId);
  }
  async dataKeyById(id: string): Promise<DataKey> {
    const key = this.keys.get(id);
    if (!key) throw new SealpostError('SP_ERR_CRYPTO_DECRYPT_FAILED', 'Stored data could not be decrypted');
    return { id, key };
  }
}

/** Feeds `data` in uneven chunks so segment boundaries never line up with writes. */
function chunked(data: Buffer, size = 10_000): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    })(),
  );
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function encrypt(keys: DataKeySource, plaintext: Buffer, context = CONTEXT): Promise<Buffer> {
  const enc = await createEncryptStream(keys, context);
  return collect(chunked(plaintext).pipe(enc));
}

async function decrypt(keys: DataKeySource, ciphertext: Buffer, context = CONTEXT): Promise<Buffer> {
  const parts: Buffer[] = [];
  const dec = createDecryptStream(keys, context);
  dec.on('data', (part: Buffer) => parts.push(part));
  await pipeline(chunked(ciphertext, 7_001), dec);
  return Buffer.concat(parts);
}

/** Decrypts, expecting failure; returns the plaintext released before the error. */
async function decryptFails(keys: DataKeySource, ciphertext: Buffer, context = CONTEXT): Promise<Buffer> {
  const parts: Buffer[] = [];
  const dec = createDecryptStream(keys, context);
  dec.on('data', (part: Buffer) => parts.push(part));
  const error = await pipeline(chunked(ciphertext, 7_001), dec).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealpostError);
  expect(error).toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED', message: 'Stored data could not be decrypted' });
  return Buffer.concat(parts);
}

const headerLength = (keys: MemoryKeys): number => 4 + 1 + keys.currentId.length + 16 + 7;

describe('stream cipher', () => {
  it.each([0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 5])('round-trips %i bytes', async (size) => {
    const keys = new MemoryKeys();
    const plaintext = randomBytes(size);
    const ciphertext = await encrypt(keys, plaintext);
    expect(ciphertext.length).toBe(ciphertextLength(size, keys.currentId.length));
    expect(ciphertext.subarray(0, 4).toString('ascii')).toBe('SPB1');
    expect((await decrypt(keys, ciphertext)).equals(plaintext)).toBe(true);
  });

  it('round-trips random sizes and chunkings', async () => {
    const keys = new MemoryKeys();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 * S }), fc.integer({ min: 1, max: 3 * S }), async (size, chunk) => {
        const plaintext = randomBytes(size);
        const enc = await createEncryptStream(keys, CONTEXT);
        const ciphertext = await collect(chunked(plaintext, chunk).pipe(enc));
        expect((await decrypt(keys, ciphertext)).equals(plaintext)).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('uses a fresh salt and nonce prefix for every blob', async () => {
    const keys = new MemoryKeys();
    const plaintext = Buffer.from('same plaintext');
    const [a, b] = [await encrypt(keys, plaintext), await encrypt(keys, plaintext)];
    expect(a.equals(b)).toBe(false);
  });

  it('rejects a blob read under another context', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, Buffer.from('hello'));
    await decryptFails(keys, ciphertext, JSON.stringify(['ten_b', 'attachment', 'att_1']));
  });

  it('rejects a blob whose data key has other material under the same id', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, Buffer.from('hello'));
    keys.keys.set(keys.currentId, randomBytes(32));
    await decryptFails(keys, ciphertext);
  });

  it('rejects a truncated blob, at and between segment boundaries', async () => {
    const keys = new MemoryKeys();
    const plaintext = randomBytes(3 * S + 100);
    const ciphertext = await encrypt(keys, plaintext);
    const h = headerLength(keys);
    // Dropping the final segment leaves a valid non-final segment last: only the last flag catches it.
    const atBoundary = await decryptFails(keys, ciphertext.subarray(0, h + 3 * CT_SEGMENT));
    expect(atBoundary.equals(plaintext.subarray(0, 2 * S))).toBe(true);
    await decryptFails(keys, ciphertext.subarray(0, ciphertext.length - 1));
    await decryptFails(keys, ciphertext.subarray(0, h + 10));
    await decryptFails(keys, ciphertext.subarray(0, h));
    await decryptFails(keys, ciphertext.subarray(0, h - 1));
    await decryptFails(keys, Buffer.alloc(0));
  });

  it('rejects an empty blob with its only segment removed', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, Buffer.alloc(0));
    await decryptFails(keys, ciphertext.subarray(0, headerLength(keys)));
  });

  it('rejects bytes appended after the final segment', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, randomBytes(S + 10));
    await decryptFails(keys, Buffer.concat([ciphertext, Buffer.from([0])]));
    await decryptFails(keys, Buffer.concat([ciphertext, ciphertext.subarray(headerLength(keys))]));
    // A blob that ended on a full segment, extended by a copy of its own last segment.
    const full = await encrypt(keys, randomBytes(2 * S));
    await decryptFails(keys, Buffer.concat([full, full.subarray(full.length - CT_SEGMENT)]));
  });

  it('rejects reordered segments', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, randomBytes(3 * S + 1));
    const h = headerLength(keys);
    const seg = (i: number) => ciphertext.subarray(h + i * CT_SEGMENT, h + (i + 1) * CT_SEGMENT);
    const swapped = Buffer.concat([ciphertext.subarray(0, h), seg(1), seg(0), ciphertext.subarray(h + 2 * CT_SEGMENT)]);
    const released = await decryptFails(keys, swapped);
    expect(released.length).toBe(0);
  });

  it('rejects a segment spliced in from another blob under the same key', async () => {
    const keys = new MemoryKeys();
    const a = await encrypt(keys, randomBytes(2 * S + 1));
    const b = await encrypt(keys, randomBytes(2 * S + 1));
    const h = headerLength(keys);
    const spliced = Buffer.concat([a.subarray(0, h + CT_SEGMENT), b.subarray(h + CT_SEGMENT)]);
    await decryptFails(keys, spliced);
  });

  it('rejects every single flipped byte, header included', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, Buffer.from('a short message that fits one segment'));
    for (let i = 0; i < ciphertext.length; i++) {
      const tampered = Buffer.from(ciphertext);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      await decryptFails(keys, tampered);
    }
  });

  it('releases no plaintext of a segment whose tag fails', async () => {
    const keys = new MemoryKeys();
    const plaintext = randomBytes(3 * S);
    const ciphertext = await encrypt(keys, plaintext);
    const h = headerLength(keys);
    const tampered = Buffer.from(ciphertext);
    const at = h + CT_SEGMENT + 5; // inside the second segment
    tampered[at] = (tampered[at] ?? 0) ^ 0x80;
    const released = await decryptFails(keys, tampered);
    expect(released.equals(plaintext.subarray(0, S))).toBe(true);
  });

  it('reports an unreachable key source as key unavailable, not as tampering', async () => {
    const keys = new MemoryKeys();
    const ciphertext = await encrypt(keys, Buffer.from('hello'));
    const broken: DataKeySource = {
      currentDataKey: () => keys.currentDataKey(),
      dataKeyById: () => Promise.reject(new Error('connect ECONNREFUSED')),
    };
    await expect(decrypt(broken, ciphertext)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_KEY_UNAVAILABLE' });
  });

  it('computes the ciphertext length of a blob', () => {
    expect(ciphertextLength(0, 8)).toBe(36 + 16);
    expect(ciphertextLength(S, 8)).toBe(36 + S + 16);
    expect(ciphertextLength(S + 1, 8)).toBe(36 + S + 1 + 32);
  });
});
