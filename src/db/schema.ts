/**
 * Table types for Kysely. Times are integer milliseconds since the epoch in both dialects
 * (SQLite has no timestamp type; one representation keeps queries portable); binary values
 * are `Buffer` (SQLite BLOB, PostgreSQL bytea).
 */

export interface DataKeysTable {
  /** Referenced from every ciphertext header. */
  id: string;
  /** `local` or `aws-kms`: which provider wrapped the key. */
  provider: string;
  /** Which master key (keyring version, KMS key ARN) wrapped it. */
  kek_ref: string;
  wrapped: Buffer;
  created_at: number;
}

export interface Database {
  data_keys: DataKeysTable;
}
