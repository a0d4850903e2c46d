import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3BlobStore } from '../../src/storage/s3-blob-store.js';
import { TEST_BUCKET, startS3Server, testS3Options, testS3Store } from './support/s3-server.js';
import { failingStream, patternBytes, patternStream, readAll, sha256Hex } from './support/streams.js';

let server: Awaited<ReturnType<typeof startS3Server>>;
let store: S3BlobStore;
let raw: S3Client;

beforeAll(async () => {
  server = await startS3Server();
  store = testS3Store(server.endpoint, { keyPrefix: 'sealpost' });
  const { bucket: _bucket, keyPrefix: _prefix, ...clientOptions } = testS3Options(server.endpoint);
  raw = new S3Client(clientOptions);
});

afterAll(async () => {
  await store?.close();
  raw?.destroy();
  await server?.stop();
});

describe('S3BlobStore against s3rver', () => {
  it('round-trips a small blob', async () => {
    expect(await store.put('ten_a/att/one', Readable.from([Buffer.from('hello '), Buffer.from('world')]))).toEqual({ size: 11 });
    expect((await readAll(await store.get('ten_a/att/one'))).toString()).toBe('hello world');
    expect(await store.exists('ten_a/att/one')).toBe(true);
  });

  it('stores under the key prefix', async () => {
    await store.put('prefixed', Readable.from([Buffer.from('x')]));
    const head = await raw.send(new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: 'sealpost/prefixed' }));
    expect(head.ContentLength).toBe(1);
  });

  it('round-trips an empty blob', async () => {
    expect(await store.put('empty', Readable.from([]))).toEqual({ size: 0 });
    expect((await readAll(await store.get('empty'))).length).toBe(0);
  });

  it('streams a 12 MB blob of unknown length as a multipart upload', async () => {
    const size = 12 * 1024 * 1024;
    expect(await store.put('big/blob', patternStream(size))).toEqual({ size });
    // Created by CompleteMultipartUpload, not by a single PutObject.
    expect(server.events.filter((e) => e.key === 'sealpost/big/blob').map((e) => e.eventName)).toEqual(['ObjectCreated:Post']);
    expect(server.events.find((e) => e.key === 'sealpost/ten_a/att/one')?.eventName).toBe('ObjectCreated:Put');
    const back = await readAll(await store.get('big/blob'));
    expect(back.length).toBe(size);
    expect(sha256Hex(back)).toBe(sha256Hex(patternBytes(0, size)));
  });

  it('reports a missing blob as not found', async () => {
    await expect(store.get('nope')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
    expect(await store.exists('nope')).toBe(false);
  });

  it('deletes, and deleting a missing blob is not an error', async () => {
    await store.put('a/b', Readable.from([Buffer.from('x')]));
    await store.delete('a/b');
    expect(await store.exists('a/b')).toBe(false);
    await expect(store.get('a/b')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
    await expect(store.delete('a/b')).resolves.toBeUndefined();
  });

  it('refuses invalid keys before any request', async () => {
    await expect(store.put('../x', Readable.from([]))).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
    await expect(store.get('/x')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
  });

  it('stores nothing when the body fails mid-way, multipart included', async () => {
    const failure = new Error('client went away');
    await expect(store.put('partial-small', failingStream(Buffer.alloc(1000, 1), failure))).rejects.toBe(failure);
    await expect(store.put('partial-big', failingStream(Buffer.alloc(6 * 1024 * 1024, 1), failure))).rejects.toBe(failure);
    expect(await store.exists('partial-small')).toBe(false);
    expect(await store.exists('partial-big')).toBe(false);
  });

  it('reports an unreachable bucket as storage unavailable', async () => {
    const missing = testS3Store(server.endpoint, { bucket: 'no-such-bucket' });
    try {
      await expect(missing.put('k', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_UNAVAILABLE' });
    } finally {
      await missing.close();
    }
  });
});
