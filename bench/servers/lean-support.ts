// What the lean same-work servers (lean-ingest.ts, lean-smtp.ts) share: Sealpost's record
// cipher format, its hashes, and keys held in memory as Sealpost's live in its caches.
import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { ulid } from 'ulid';

export const signingKey = generateKeyPairSync('ed25519').privateKey;
export const kid = 'sp_sig_lean';
export const dataKey = { id: `dek_${ulid()}`, key: randomBytes(32) };
const sealHeader = Buffer.concat([Buffer.from([0x01, dataKey.id.length]), Buffer.from(dataKey.id, 'ascii')]);

/** The record cipher's format: 0x01 | id length | data key id | IV | ciphertext | tag, context as AAD. */
export function seal(plaintext: Buffer, tenant: string, table: string, id: string, field: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey.key, iv);
  cipher.setAAD(Buffer.concat([sealHeader, Buffer.from(JSON.stringify(['sealpost-record-v1', tenant, table, id, field]), 'utf8')]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([sealHeader, iv, body, cipher.getAuthTag()]);
}

export const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
/** RFC 9162 leaf hash, as the audit log's. */
export const leafHash = (b: Buffer): Buffer => createHash('sha256').update(Buffer.from([0])).update(b).digest();
