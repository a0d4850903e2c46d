import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createBlobStore } from '../../src/storage/create-blob-store.js';
import { LocalBlobStore } from '../../src/storage/local-blob-store.js';
import { S3BlobStore } from '../../src/storage/s3-blob-store.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-blob-factory-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('opens the local store under <data dir>/blobs', async () => {
  const store = await createBlobStore({ blobStore: 'local', dataDir: dir, s3ForcePathStyle: false });
  expect(store).toBeInstanceOf(LocalBlobStore);
  expect((await stat(path.join(dir, 'blobs'))).isDirectory()).toBe(true);
  await store.close();
});

it('builds an S3 store from the S3 settings', async () => {
  const store = await createBlobStore({
    blobStore: 's3',
    dataDir: dir,
    s3Bucket: 'bucket',
    s3Endpoint: 'http://127.0.0.1:9',
    s3ForcePathStyle: true,
    awsRegion: 'us-east-1',
  });
  expect(store).toBeInstanceOf(S3BlobStore);
  await store.close();
});

it('refuses S3 without a bucket', async () => {
  await expect(createBlobStore({ blobStore: 's3', dataDir: dir, s3ForcePathStyle: false })).rejects.toMatchObject({ code: 'SP_ERR_CONFIG_INVALID' });
});
