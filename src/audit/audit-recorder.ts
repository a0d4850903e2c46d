import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AuditEvent } from './audit-event.js';
import type { AuditLog } from './audit-log.js';

/**
 * How a service records the audit event of an admin change: inside the change's own
 * transaction, so the change and its event commit together or not at all. The time is the
 * moment of recording.
 */
export type AuditRecorder = (tx: Kysely<Database>, event: Omit<AuditEvent, 'time'>) => Promise<void>;

export function auditRecorder(log: AuditLog, now: () => number = Date.now): AuditRecorder {
  return async (tx, event) => {
    await log.append(tx, { time: new Date(now()).toISOString(), ...event });
  };
}
