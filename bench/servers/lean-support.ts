// What the lean same-work servers (lean-ingest.ts, lean-smtp.ts) share: Sealpost's record
// cipher format, its hashes, and keys held in memory as Sealpost's live in its caches.
import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
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

/**
 * Group commit per event-loop turn (the units queued in one turn share one transaction and its
 * fsync), with the audit log's head kept in memory by the one writer: `appendLeaf` gives the next
 * index and chain value inside a unit; a failed batch puts the head back.
 */
export function leanGroupCommit(db: Database.Database): { commit: (work: () => void) => Promise<void>; appendLeaf: (leaf: Buffer) => { index: number; chain: Buffer } } {
  const setHead = db.prepare('update audit_log_head set size = ? where id = 1');
  let head = (db.prepare('select size from audit_log_head where id = 1').get() as { size: number }).size;
  let chain = head === 0 ? Buffer.alloc(32) : Buffer.from((db.prepare('select chain_hash from audit_events where log_index = ?').get(head - 1) as { chain_hash: Buffer }).chain_hash);
  let queue: { work: () => void; done: (err?: unknown) => void }[] = [];
  const writeBatch = db.transaction((batch: typeof queue) => {
    for (const unit of batch) unit.work();
    setHead.run(head);
  });
  const flush = (): void => {
    const batch = queue;
    queue = [];
    const [savedHead, savedChain] = [head, chain];
    try {
      writeBatch(batch);
    } catch (err) {
      [head, chain] = [savedHead, savedChain];
      for (const unit of batch) unit.done(err);
      return;
    }
    for (const unit of batch) unit.done();
  };
  return {
    commit: (work) =>
      new Promise((resolve, reject) => {
        queue.push({ work, done: (err) => (err ? reject(err) : resolve()) });
        if (queue.length === 1) setImmediate(flush);
      }),
    appendLeaf: (leaf) => {
      chain = createHash('sha256').update(chain).update(leaf).digest();
      return { index: head++, chain };
    },
  };
}
