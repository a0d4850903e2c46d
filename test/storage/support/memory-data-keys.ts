import { randomBytes } from 'node:crypto';
import type { DataKey, DataKeySource } from '../../../src/crypto/data-key-source.js';
import { SealpostError } from '../../../src/errors/sealpost-error.js';

/** Data keys in a Map; an unknown id fails the way RecordCipher fails it. */
export class MemoryDataKeys implements DataKeySource {
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
