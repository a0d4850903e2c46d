import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Work computed before a transaction (sealed, signed, hashed) and stored inside it: the one
 * shape of every side effect that commits with an action (outbox rows, receipts, audit events).
 * No cryptography runs inside: the transaction may hold SQLite's only connection.
 * The declarations of which writes commit with which action are in src/app/effects.ts.
 */
export type PreparedWrite = (tx: Kysely<Database>) => Promise<void>;
