import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ciphertextLength } from '../../src/crypto/stream-cipher.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { EncryptedBlobStore } from '../../src/storage/encrypted-blob-store.js';
import { LocalBlobStore } from '../../src/storage/local-blob-store.js';
import { MemoryDataKeys } from './support/memory-data-keys.js';
import { startS3Server, testS3Store } from './support/s3-server.js';
import { failingStream, patternBytes, patternStream, readAll, sha256Hex } from './support/streams.js';

const CONTEXT = JSON.stringify(['ten_a', 'attachment', 'att_1']);
const MARKER = 'SEALPOST-PLAINTEXT-MARKER';

interface Backend {
  readonly store: BlobStore;
  stop(): Promise<void>;
}

const backends: Record<string, () => Promise<Backend>> = {
  local: async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-enc-blobs-'));
    const store = await LocalBlobStore.open(path.join(dir, 'blobs'));
    return { store, stop: () => rm(dir, { recursive: true, force: true }) };
  },
  s3: async () => {
    const server = await startS3Server();
    const store = testS3Store(server.endpoint);
    return {
      store,
      async stop() {
        await store.close();
        await server.stop();
      },
    };
  },
};

describe.each(Object.keys(backends))('EncryptedBlobStore on %s', (name) => {
  let backend: Backend;
  let keys: MemoryDataKeys;
  let blobs: EncryptedBlobStore;

  beforeAll(async () => {
    backend = await (backends[name] as () => Promise<Backend>)();
    keys = new MemoryDataKeys();
    blobs = new EncryptedBlobStore(backend.store, keys);
  });

  afterAll(async () => {
    await backend?.stop();
  });

  it.each([0, 1, 200_000, 6 * 1024 * 1024])('round-trips %i bytes with their size and SHA-256', async (size) => {
    const key = `ten_a/att/size-${size}`;
    expect(await blobs.putEncrypted(key, patternStream(size, 50_000), CONTEXT, 'ten_a')).toEqual({ size, sha256: sha256Hex(patternBytes(0, size)) });
    const back = await readAll(await blobs.getDecrypted(key, CONTEXT, 'ten_a'));
    expect(back.length).toBe(size);
    expect(sha256Hex(back)).toBe(sha256Hex(patternBytes(0, size)));
    // What is at rest is exactly the sealed form: header, then each segment and its tag.
    expect((await readAll(await backend.store.get(key))).length).toBe(ciphertextLength(size, keys.currentId.length));
  });

  it('keeps no plaintext at rest', async () => {
    const plaintext = Buffer.from(`${MARKER}\n`.repeat(10_000));
    await blobs.putEncrypted('ten_a/raw/marker', Readable.from([plaintext]), CONTEXT, 'ten_a');
    const atRest = await readAll(await backend.store.get('ten_a/raw/marker'));
    expect(atRest.includes(MARKER)).toBe(false);
    expect(atRest.includes(MARKER.slice(0, 8))).toBe(false);
  });

  it('refuses a blob read under another context', async () => {
    await blobs.putEncrypted('ten_a/att/ctx', Readable.from([Buffer.from('for tenant a')]), CONTEXT, 'ten_a');
    const other = await blobs.getDecrypted('ten_a/att/ctx', JSON.stringify(['ten_b', 'attachment', 'att_1']), 'ten_a');
    await expect(readAll(other)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
  });

  it('refuses a blob with one byte flipped at rest', async () => {
    const key = 'ten_a/att/flip';
    await blobs.putEncrypted(key, patternStream(150_000), CONTEXT, 'ten_a');
    const sealed = await readAll(await backend.store.get(key));
    const at = sealed.length - 1_000;
    sealed[at] = (sealed[at] ?? 0) ^ 0x04;
    await backend.store.put(key, Readable.from([sealed]));
    await expect(readAll(await blobs.getDecrypted(key, CONTEXT, 'ten_a'))).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
  });

  it('stores nothing when the plaintext source fails', async () => {
    const failure = new Error('client went away');
    await expect(blobs.putEncrypted('ten_a/att/failed', failingStream(Buffer.alloc(300_000, 7), failure), CONTEXT, 'ten_a')).rejects.toBe(failure);
    expect(await blobs.exists('ten_a/att/failed')).toBe(false);
  });

  it('refuses an invalid key without waiting on the source', async () => {
    const source = patternStream(1_000_000);
    await expect(blobs.putEncrypted('../escape', source, CONTEXT, 'ten_a')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
    expect(source.destroyed).toBe(true);
  });

  it('reports a missing blob as not found', async () => {
    await expect(blobs.getDecrypted('ten_a/att/none', CONTEXT, 'ten_a')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
  });
});
