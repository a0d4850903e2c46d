import { describe, expect, it } from 'vitest';
import type { KeyProviderStatus } from '../../crypto/key-provider.js';
import { replicaKeyProblem } from './key-replication.js';

const kms = (details: Record<string, unknown>): KeyProviderStatus => ({ provider: 'aws-kms', currentKek: 'arn', rotationEnabled: true, details });

describe('keys check: the master key in the backup replica region', () => {
  it('flags a single-region KMS key', () => {
    expect(replicaKeyProblem(kms({ multi_region: false }), 'eu-west-1')).toMatch(/single-region/);
  });
  it('flags a multi-region key without a replica in the replica region', () => {
    expect(replicaKeyProblem(kms({ multi_region: true, primary_region: 'eu-central-1', replica_regions: ['us-east-1'] }), 'eu-west-1')).toMatch(/no replica in eu-west-1/);
  });
  it('accepts a multi-region key replicated to the replica region, and the local keyring', () => {
    expect(replicaKeyProblem(kms({ multi_region: true, primary_region: 'eu-central-1', replica_regions: ['eu-west-1'] }), 'eu-west-1')).toBeUndefined();
    expect(replicaKeyProblem({ provider: 'local', currentKek: 'local:v1', rotationEnabled: true, details: {} }, undefined)).toBeUndefined();
  });
});
