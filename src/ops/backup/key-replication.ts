import type { KeyProviderStatus } from '../../crypto/key-provider.js';

/**
 * Whether the master key will still be there when the backup replica is all that is left. With
 * AWS KMS the answer is a multi-region key with a replica in the replica's region (a KMS key
 * never leaves its region otherwise); with the local keyring, the recovery file
 * (`sealpost keys export-recovery`), which `keys check` cannot see, so it only reminds.
 * Returns the problem to report, or undefined.
 */
export function replicaKeyProblem(status: KeyProviderStatus, replicaRegion: string | undefined): string | undefined {
  if (status.provider === 'local') return undefined;
  if (status.details.multi_region !== true) {
    return 'the KMS key is single-region: a snapshot in the replica region cannot be decrypted if this region is lost; use a multi-region key (mrk-…) with a replica in the backup replica region';
  }
  const regions = [status.details.primary_region, ...((status.details.replica_regions as string[] | undefined) ?? [])];
  if (replicaRegion !== undefined && !regions.includes(replicaRegion)) {
    return `the KMS key has no replica in ${replicaRegion} (SEALPOST_BACKUP_REPLICA_REGION); create one with aws kms replicate-key`;
  }
  return undefined;
}
