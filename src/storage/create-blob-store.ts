import path from 'node:path';
import type { SealpostConfig } from '../config/config.schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './local-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

export type BlobStoreConfig = Pick<SealpostConfig, 'blobStore' | 'dataDir' | 's3Bucket' | 's3Endpoint' | 's3ForcePathStyle' | 'awsRegion'>;

/** The configured backend: `<data dir>/blobs`, or an S3 bucket with the SDK's default credential chain. */
export async function createBlobStore(config: BlobStoreConfig): Promise<BlobStore> {
  if (config.blobStore === 'local') return LocalBlobStore.open(path.join(config.dataDir, 'blobs'));
  if (!config.s3Bucket) {
    // The config validator requires it with `s3`; checked again so a hand-built config fails clearly.
    throw new SealpostError('SP_ERR_CONFIG_INVALID', 'SEALPOST_S3_BUCKET is required when SEALPOST_BLOB_STORE is s3');
  }
  return new S3BlobStore({
    bucket: config.s3Bucket,
    endpoint: config.s3Endpoint,
    region: config.awsRegion,
    forcePathStyle: config.s3ForcePathStyle,
  });
}
