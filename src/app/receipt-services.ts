import type { Kysely } from 'kysely';
import { AuditLog } from '../audit/audit-log.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
import { SigningKeyRepository } from '../crypto/signing-key.repository.js';
import { SigningKeyService, type SigningKeyServiceOptions } from '../crypto/signing-key.service.js';
import type { Database } from '../db/schema.js';
import { ReceiptRepository } from '../receipts/receipt.repository.js';
import { ReceiptService } from '../receipts/receipt.service.js';
import { Ed25519RequestSigner } from '../receipts/webhook-signer.js';

export interface ReceiptServices {
  readonly keys: SigningKeyService;
  readonly receipts: ReceiptService;
  readonly signer: Ed25519RequestSigner;
  readonly repository: ReceiptRepository;
}

/** The signing keys, receipts and request signer of one process, over one database and cipher. */
export function createReceiptServices(deps: {
  db: Kysely<Database>;
  cipher: RecordCipher;
  /** Where key changes are logged (`signing_key.rotated`); the process's audit log. */
  audit?: AuditLog;
  now?: () => number;
  keys?: Omit<SigningKeyServiceOptions, 'now'>;
}): ReceiptServices {
  const now = deps.now ?? Date.now;
  const keys = new SigningKeyService(new SigningKeyRepository(deps.db), deps.cipher, deps.audit ?? new AuditLog(), { ...deps.keys, now });
  const repository = new ReceiptRepository(deps.db, deps.cipher);
  const receipts = new ReceiptService(keys, repository, now);
  return { keys, receipts, signer: new Ed25519RequestSigner(keys), repository };
}
