import type { KMSClient } from '@aws-sdk/client-kms';
import { lazyImport } from '../util/lazy-import.js';

/** The AWS KMS SDK, loaded on first use: a deployment on the local keyring never loads it. */
export const loadKms = lazyImport(() => import('@aws-sdk/client-kms'));

/**
 * A client of the SDK's default credential chain, in `region` when one is configured. A promise,
 * so that the synchronous factories can hand it to the adapters, which await it per call.
 */
export async function kmsClient(region: string | undefined): Promise<KMSClient> {
  const { KMSClient } = await loadKms();
  return new KMSClient(region ? { region } : {});
}
