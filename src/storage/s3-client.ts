import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { lazyImport } from '../util/lazy-import.js';

/** The S3 SDK and its multipart uploader, loaded on first use: a deployment on local blobs never loads them. */
export const loadS3 = lazyImport(() => import('@aws-sdk/client-s3'));
export const loadS3Upload = lazyImport(() => import('@aws-sdk/lib-storage'));

/**
 * A client for `config`, as a promise, so that the stores' synchronous constructors can start it;
 * their methods await it.
 */
export async function s3Client(config: S3ClientConfig): Promise<S3Client> {
  const { S3Client } = await loadS3();
  return new S3Client(config);
}
