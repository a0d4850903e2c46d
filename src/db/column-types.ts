import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from './database.js';

/** The few column types whose names differ between SQLite and PostgreSQL. */
export function columnTypes(dialect: Dialect): { bytes: RawBuilder<unknown>; bigint: 'bigint' | 'integer'; json: RawBuilder<unknown> } {
  return dialect === 'postgres'
    ? { bytes: sql`bytea`, bigint: 'bigint', json: sql`jsonb` }
    : { bytes: sql`blob`, bigint: 'integer', json: sql`text` };
}
