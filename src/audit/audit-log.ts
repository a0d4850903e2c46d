import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { encodeAuditEvent, type AuditEvent } from './audit-event.js';

/** The chain value before the first event. */
export const CHAIN_START = Buffer.alloc(32);

/** chain(i) = SHA-256(chain(i-1) || leaf(i)): breaks at the exact index where rows are removed or reordered. */
export function nextChainHash(previous: Buffer, leafHash: Buffer): Buffer {
  return createHash('sha256').update(previous).update(leafHash).digest();
}

export interface AppendedEvent {
  /** Position in the global log, from 0. */
  readonly index: number;
  /** Base64 SHA-256(0x00 || canonical event), the RFC 9162 leaf hash. */
  readonly leafHash: string;
}

/**
 * The append side of the audit log: one global sequence of events, each stored as canonical
 * JSON with its RFC 9162 leaf hash and a hash chain value.
 */
export class AuditLog {
  /**
   * The last event each open transaction appended. A transaction that appends again holds the
   * head row all along, so the event before its next index is the one it wrote itself: a batch
   * of N appends reads the chain once instead of N times, which shortens how long the head row
   * stays locked (docs/scaling.md). Used only when the index is exactly the next one, so an
   * append rolled back to a savepoint falls back to reading the stored chain.
   */
  private readonly lastAppended = new WeakMap<Kysely<Database>, { index: number; chainHash: Buffer }>();

  constructor(private readonly repository: AuditEventRepository = new AuditEventRepository()) {}

  /**
   * Records `event` inside the caller's transaction, so the action and its audit event commit
   * or fail together (an action whose event cannot be written does not happen).
   *
   * Appends are serialised: the transaction holds the log head row from here until it ends
   * (see AuditEventRepository.reserveIndex), so call this late in a transaction that does not
   * wait on anything slow afterwards.
   */
  async append(tx: Kysely<Database>, event: AuditEvent): Promise<AppendedEvent> {
    if (!tx.isTransaction) throw new Error('AuditLog.append must be called inside a transaction; use appendInOwnTransaction');
    // Validate before taking the lock.
    const encoded = encodeAuditEvent(event);
    const index = await this.repository.reserveIndex(tx);
    const last = this.lastAppended.get(tx);
    const previous = index === 0 ? CHAIN_START : last?.index === index - 1 ? last.chainHash : await this.repository.chainHashAt(tx, index - 1);
    if (!previous) throw new Error(`audit log head says ${index} events but event ${index - 1} is missing`);
    const chainHash = nextChainHash(previous, encoded.leafHash);
    await this.repository.insert(tx, {
      index,
      tenantId: encoded.event.tenant,
      occurredAt: Date.parse(encoded.event.time),
      actorType: encoded.event.actor.type,
      actorId: encoded.event.actor.id,
      action: encoded.event.action,
      resource: encoded.event.resource ?? null,
      event: encoded.canonical.toString('utf8'),
      leafHash: encoded.leafHash,
      chainHash,
    });
    this.lastAppended.set(tx, { index, chainHash });
    return { index, leafHash: encoded.leafHash.toString('base64') };
  }

  /** For events with no surrounding action to share a transaction with (logins, requests, scheduled jobs). */
  appendInOwnTransaction(db: Kysely<Database>, event: AuditEvent): Promise<AppendedEvent> {
    return db.transaction().execute((tx) => this.append(tx, event));
  }
}
