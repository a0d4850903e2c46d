import { sql, type Kysely, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';

/**
 * SQLite connections of the transactions that run statements directly, by transaction. Only the
 * group committer registers one, for as long as its transaction holds SQLite's only connection:
 * a statement run on that connection then is inside that transaction, exactly as if Kysely ran it.
 */
const directConnections = new WeakMap<Kysely<Database>, SqliteDatabase>();

/** Runs `work` with `tx`'s statements of the hot path going straight to `connection` (which `tx` holds). */
export async function withDirectStatements<T>(tx: Kysely<Database>, connection: SqliteDatabase, work: () => Promise<T>): Promise<T> {
  directConnections.set(tx, connection);
  try {
    return await work();
  } finally {
    directConnections.delete(tx);
  }
}

/**
 * A statement that every ingest runs (payload, outbox, receipt and audit rows), written once
 * with `?` placeholders. Inside a group-commit transaction on SQLite it runs as a prepared
 * statement on the transaction's connection, synchronously; anywhere else (PostgreSQL, other
 * transactions) it goes through Kysely as a `sql` template with the same text and values, so
 * each dialect gets its own placeholders. Kysely's layers around a statement (connection
 * provider, compiler, result transform, several promises) cost 2–4 µs each, more than SQLite
 * spends inserting the row, and an ingest runs about eight of them.
 */
export class HotStatement<Row = never> {
  private readonly pieces: TemplateStringsArray;

  constructor(readonly text: string) {
    // Odd pieces between single quotes are inside string literals.
    if (text.split("'").some((piece, i) => i % 2 === 1 && piece.includes('?'))) throw new Error(`a placeholder inside a quoted literal is ambiguous: ${text}`);
    const parts = text.split('?');
    this.pieces = Object.assign([...parts], { raw: parts });
  }

  /** The rows a statement returns (a select, or `returning`); none for other statements. */
  async execute(tx: Kysely<Database>, values: readonly unknown[]): Promise<Row[]> {
    if (values.length !== this.pieces.length - 1) throw new Error(`${this.pieces.length - 1} placeholders, ${values.length} values: ${this.text}`);
    const connection = directConnections.get(tx);
    if (connection) {
      const statement = connection.prepare(this.text);
      if (statement.reader) return statement.all(values) as Row[];
      statement.run(values);
      return [];
    }
    return (await sql<Row>(this.pieces, ...values).execute(tx)).rows;
  }
}
