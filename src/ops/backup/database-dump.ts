import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { RecordCipher } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { envelopeContext } from '../../ingest/payload.repository.js';
import { rawMessageBlobKey, rawMessageRefOf } from '../../ingest/smtp/raw-message.js';

/*
 * How each dialect is snapshotted without a plain-text file ever touching the disk:
 *
 * SQLite: sqlite3_serialize (better-sqlite3 `serialize()`) copies every page into one Buffer
 * inside a read transaction, so the image is consistent while writers go on (WAL). The image is
 * then sealed in memory. The online backup API (`.backup()`) and `VACUUM INTO` only write to a
 * file, which is what the rule forbids. Cost: the database is held in memory twice (image and
 * its deserialized copy for counting); Node's Buffer limit (4 GiB on Node 20, more on 22+) is
 * the hard ceiling, and SQLITE_IMAGE_LIMIT_BYTES the one we enforce. Past it, run on PostgreSQL.
 *
 * PostgreSQL: `pg_dump --format=custom` on stdout, streamed through the cipher. It runs on a
 * snapshot exported from a REPEATABLE READ transaction that also counts the rows and lists the
 * blobs, so the dump, the counts and the blob manifest describe the same instant.
 */

/** Refuse SQLite images past 2 GiB: two copies in memory, and the Buffer limit of Node 20 is 4 GiB. */
export const SQLITE_IMAGE_LIMIT_BYTES = 2 * 1024 ** 3;

/** What one consistent view of the database says about itself. */
export interface DatabaseFacts {
  readonly rowCounts: Record<string, number>;
  /** Every blob the database refers to: attachments and raw e-mails. */
  readonly blobKeys: string[];
  /** Newest applied migration. */
  readonly schema: string;
}

/** Row counts, blob keys and schema version from one consistent view (a snapshot's transaction, or a deserialized image). */
export async function readFacts(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', cipher: RecordCipher | undefined): Promise<DatabaseFacts> {
  const tables =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  const rowCounts: Record<string, number> = {};
  for (const { name } of tables.rows) {
    // Table names come from the catalogue, not from input.
    const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(name)}`.execute(db);
    rowCounts[name] = Number(result.rows[0]?.n ?? 0);
  }
  const schema = await sql<{ name: string }>`select name from schema_migrations order by name desc limit 1`.execute(db);
  const blobKeys = (await db.selectFrom('attachments').select('blob_key').orderBy('blob_key').execute()).map((r) => r.blob_key);
  if (cipher) {
    // Raw e-mails are named only inside their sealed envelope.
    const mails = await db.selectFrom('payloads').select(['id', 'tenant_id', 'envelope_sealed']).where('type', '=', 'email.received').execute();
    for (const mail of mails) {
      const envelope = JSON.parse((await cipher.decrypt(Buffer.from(mail.envelope_sealed), envelopeContext(mail.tenant_id, mail.id))).toString('utf8')) as { type: string; data: Record<string, unknown> };
      const ref = rawMessageRefOf(envelope);
      if (ref) blobKeys.push(rawMessageBlobKey(mail.tenant_id, ref.id));
    }
  }
  return { rowCounts, blobKeys: [...new Set(blobKeys)].sort(), schema: schema.rows[0]?.name ?? '' };
}

/**
 * A consistent image of the SQLite database at `file`, in memory, in rollback-journal mode (a
 * WAL-mode image cannot be deserialized), and the facts read from it.
 */
export async function serializeSqlite(file: string, cipher: RecordCipher | undefined): Promise<{ image: Buffer; facts: DatabaseFacts }> {
  const source = new SQLite(file, { fileMustExist: true, readonly: true });
  let image: Buffer;
  try {
    const pages = (source.pragma('page_count', { simple: true }) as number) * (source.pragma('page_size', { simple: true }) as number);
    if (pages > SQLITE_IMAGE_LIMIT_BYTES) {
      throw new SealpostError('SP_ERR_BACKUP_TOO_LARGE', 'The SQLite database is too large to snapshot in memory; move it to PostgreSQL', { logDetail: { bytes: pages } });
    }
    image = source.serialize();
  } finally {
    source.close();
  }
  // Bytes 18 and 19 are the file format's write and read versions: 2 is WAL, 1 rollback journal.
  image[18] = 1;
  image[19] = 1;
  const facts = await withImage(image, (db) => readFacts(db, 'sqlite', cipher));
  return { image, facts };
}

/** Runs `work` over a deserialized, in-memory copy of a SQLite image. */
export async function withImage<T>(image: Buffer, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const memory = new SQLite(image);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: memory }) });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Checks a restored image before it is written anywhere: SQLite's own integrity check must say "ok". */
export function checkSqliteImage(image: Buffer): void {
  let result: unknown;
  try {
    const memory = new SQLite(image);
    try {
      result = memory.pragma('integrity_check', { simple: true });
    } finally {
      memory.close();
    }
  } catch (cause) {
    throw new SealpostError('SP_ERR_BACKUP_CORRUPTED', 'The snapshot is corrupted or incomplete', { cause, logDetail: { reason: 'not a SQLite image' } });
  }
  if (result !== 'ok') throw new SealpostError('SP_ERR_BACKUP_CORRUPTED', 'The snapshot is corrupted or incomplete', { logDetail: { reason: 'integrity_check', result } });
}

/** The newest PostgreSQL client tool `name` (pg_dump, pg_restore) under /usr/lib/postgresql, else from PATH. */
export function postgresTool(name: 'pg_dump' | 'pg_restore'): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const candidate = path.join(root, version, 'bin', name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return name;
}

/**
 * libpq settings from a database URL, passed by environment so that the password never appears
 * in a process list (`ps` shows arguments, not the environment).
 */
export function libpqEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '10' };
  if (u.hostname) env.PGHOST = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  env.PGDATABASE = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  const host = u.searchParams.get('host');
  if (host) env.PGHOST = host;
  return env;
}

/** A running pg_dump or pg_restore: its stream, and a promise that rejects with its stderr if it fails. */
interface ToolRun<S> {
  readonly stream: S;
  readonly done: Promise<void>;
  /** Ends the tool at once (a failed source): pg_restore's single transaction then rolls back. */
  kill(): void;
}

function runTool(tool: 'pg_dump' | 'pg_restore', args: string[], url: string, stdin: 'pipe' | 'ignore'): ToolRun<{ stdout: Readable; stdin: Writable | null }> {
  const child = spawn(postgresTool(tool), args, { env: libpqEnv(url), stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (cause) => reject(new SealpostError('SP_ERR_BACKUP_TOOL_FAILED', `${tool} could not be started`, { cause })));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new SealpostError('SP_ERR_BACKUP_TOOL_FAILED', `${tool} failed (exit ${String(code)})`, { logDetail: { stderr: stderr.slice(0, 4096) } }));
    });
  });
  if (!child.stdout) throw new Error(`${tool} has no stdout`);
  return { stream: { stdout: child.stdout, stdin: child.stdin }, done, kill: () => child.kill('SIGKILL') };
}

/** `pg_dump --format=custom` of the exported snapshot `snapshotId`, on stdout. */
export function pgDump(url: string, snapshotId: string): ToolRun<Readable> {
  const run = runTool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${snapshotId}`], url, 'ignore');
  return { stream: run.stream.stdout, done: run.done, kill: run.kill };
}

/** `pg_restore` of a custom-format dump read from stdin, in one transaction: it applies whole or not at all. */
export function pgRestore(url: string): ToolRun<Writable> {
  const run = runTool('pg_restore', ['--single-transaction', '--exit-on-error', '--no-owner', '--no-privileges', `--dbname=${libpqEnv(url).PGDATABASE ?? ''}`], url, 'pipe');
  const stdin = run.stream.stdin;
  if (!stdin) throw new Error('pg_restore has no stdin');
  return { stream: stdin, done: run.done, kill: run.kill };
}
