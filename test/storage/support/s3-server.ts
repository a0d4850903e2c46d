import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { S3BlobStore, type S3BlobStoreOptions } from '../../../src/storage/s3-blob-store.js';

export const TEST_BUCKET = 'test';

/** A real S3-compatible server (s3rver) on loopback, port chosen by the OS, data in a temp dir. */
export async function startS3Server(): Promise<{ endpoint: string; events: { eventName: string; key: string }[]; stop(): Promise<void> }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'sealpost-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: TEST_BUCKET }] });
  // s3rver emits S3 event notifications; CompleteMultipartUpload shows as "ObjectCreated:Post".
  const events: { eventName: string; key: string }[] = [];
  server.on('event', (event: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
    for (const record of event.Records) events.push({ eventName: record.eventName, key: record.s3.object.key });
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export function testS3Options(endpoint: string, overrides: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions {
  return {
    bucket: TEST_BUCKET,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    ...overrides,
  };
}

export function testS3Store(endpoint: string, overrides: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore(testS3Options(endpoint, overrides));
}
