import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyReceipt, type JwkSet } from '@sealpost/verify';
import { sql, type Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { verifyStoredAuditLog } from '../../audit/audit-verify.js';
import { canonicalJson } from '../../crypto/canonical-json.js';
import { newId } from '../../crypto/ids.js';
import type { KeyProvider } from '../../crypto/key-provider.js';
import { openDatabase, type DatabaseHandle } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { SealpostConfig } from '../../config/config.schema.js';
import { SealpostError, isSealpostError } from '../../errors/sealpost-error.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { BackupRepository, DrillRow } from './backup.repository.js';
import { manifestsIn } from './backup.service.js';
import type { BackupTarget } from './backup-target.js';
import { readFacts } from './database-dump.js';
import { restoreSnapshot, type RestoreDestination } from './restore.js';
import { NO_PROGRESS } from './snapshot-reader.js';
import type { Environment } from './snapshot-format.js';

/** Receipts checked per drill: enough to catch a wrong key set, few enough to stay quick. */
export const DRILL_RECEIPT_SAMPLE = 25;

/** Reads receipts and keys out of a restored database with the restored keys (built in src/app/). */
export interface RestoredInspector {
  receiptJson(tenantId: string, id: string): Promise<string>;
  /** The tenant's published and archived keys: every key a stored receipt may name. */
  jwks(tenantId: string): Promise<JwkSet>;
}

export interface DrillDeps {
  readonly replica: BackupTarget;
  readonly keyProvider: KeyProvider;
  /** The live deployment's database: where the drill is recorded. */
  readonly db: Kysely<Database>;
  readonly liveDatabase: SealpostConfig['database'];
  readonly environment: Environment;
  readonly repository: BackupRepository;
  readonly record: AuditRecorder;
  /** A local blob store under the scratch directory. */
  readonly openScratchBlobs: (dir: string) => Promise<BlobStore>;
  readonly inspect: (db: Kysely<Database>) => RestoredInspector;
  /** Signs the report (the audit log key), so the report can be checked apart from the database. */
  readonly sign: (bytes: Buffer) => Promise<{ alg: 'Ed25519'; kid: string; value: string }>;
  readonly now?: () => number;
}

export interface DrillReport {
  readonly v: 1;
  readonly id: string;
  readonly snapshot: string | null;
  readonly snapshot_created_at: string | null;
  readonly source: string;
  readonly started_at: string;
  readonly rto_seconds: number;
  readonly passed: boolean;
  readonly checks: {
    readonly audit?: { ok: boolean; events: number; checkpoints_verified: number };
    /** `erased`: receipts of tenants erased since the snapshot, whose keys are gone by design: not sampled. */
    readonly receipts?: { sampled: number; verified: number; erased: number };
    readonly row_counts?: { tables: number; mismatched: readonly string[] };
  };
  readonly error?: string;
}

/**
 * A restore drill: the newest snapshot in the REPLICA (the copy a lost region leaves) restored
 * into a scratch location, opened read-only, its whole audit log verified, a sample of receipts
 * verified with @sealpost/verify against the restored keys, its row counts compared with those
 * recorded when the snapshot was taken. RTO is the time from start to verified. The signed
 * report is stored and its hash recorded in the audit log (`backup.drilled`), pass or fail.
 */
export async function runDrill(deps: DrillDeps, actor: AuditActor): Promise<DrillReport & { sig: unknown }> {
  const now = deps.now ?? Date.now;
  const started = now();
  const id = newId('drill', started);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'sealpost-drill-'));
  let snapshot: { id: string; created_at: string } | undefined;
  let checks: DrillReport['checks'] = {};
  let error: string | undefined;
  let dropScratch = async (): Promise<void> => {};
  try {
    const manifests = [...(await manifestsIn(deps.replica)).values()].flatMap((m) => (m.manifest ? [m.manifest] : []));
    const latest = manifests.sort((a, b) => (a.id < b.id ? 1 : -1))[0];
    if (!latest) throw new SealpostError('SP_ERR_BACKUP_NOT_FOUND', `No snapshot in ${deps.replica.name}`);
    snapshot = latest;
    let to: RestoreDestination;
    if (latest.dialect === 'sqlite') {
      to = { dialect: 'sqlite', dir: path.join(scratch, 'data') };
    } else {
      if (deps.liveDatabase.dialect !== 'postgres') throw new SealpostError('SP_ERR_CONFIG_INVALID', 'A PostgreSQL snapshot is drilled on a PostgreSQL deployment');
      const scratchDb = await createScratchDatabase(deps.db, deps.liveDatabase.url);
      to = { dialect: 'postgres', url: scratchDb.url };
      dropScratch = scratchDb.drop;
    }
    const restored = await restoreSnapshot({
      id: latest.id,
      source: deps.replica,
      keyProvider: deps.keyProvider,
      to,
      openBlobStore: () => deps.openScratchBlobs(path.join(scratch, 'data')),
      environment: deps.environment,
      force: false,
      progress: NO_PROGRESS,
      actor,
    });
    const handle = await openReadOnly(to);
    try {
      const audit = await verifyStoredAuditLog(handle.db, { now: now() });
      const receipts = await sampleReceipts(handle.db, deps.inspect(handle.db));
      const facts = await readFacts(handle.db, to.dialect, undefined);
      // The restore records its own `backup.restored` event: one more than the snapshot held.
      const expected = { ...restored.manifest.row_counts, audit_events: (restored.manifest.row_counts.audit_events ?? 0) + 1 };
      const mismatched = Object.entries(expected)
        .filter(([table, count]) => facts.rowCounts[table] !== count)
        .map(([table, count]) => `${table}: ${String(facts.rowCounts[table])} restored, ${count} at snapshot time`);
      checks = {
        audit: { ok: audit.ok, events: audit.events, checkpoints_verified: audit.checkpointsVerified },
        receipts,
        row_counts: { tables: Object.keys(expected).length, mismatched },
      };
      if (!audit.ok) error = `audit log: ${audit.problems[0]?.reason ?? 'failed'}`;
      else if (receipts.verified !== receipts.sampled) error = 'receipts: not every sampled receipt verified';
      else if (mismatched.length > 0) error = `row counts differ: ${mismatched.join('; ')}`;
    } finally {
      await handle.close();
    }
  } catch (caught) {
    error = isSealpostError(caught) ? `${caught.code}: ${caught.message}` : 'unexpected error (see the log)';
    if (!isSealpostError(caught)) throw caught;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await dropScratch().catch(() => undefined);
  }
  const rtoMs = now() - started;
  const report: DrillReport = {
    v: 1,
    id,
    snapshot: snapshot?.id ?? null,
    snapshot_created_at: snapshot?.created_at ?? null,
    source: deps.replica.name,
    started_at: new Date(started).toISOString(),
    rto_seconds: Math.round(rtoMs / 100) / 10,
    passed: error === undefined,
    checks,
    ...(error === undefined ? {} : { error }),
  };
  const bytes = canonicalJson(report);
  const signed = { ...report, sig: await deps.sign(bytes) };
  const stored: DrillRow = {
    id,
    started_at: started,
    snapshot_id: snapshot?.id ?? '',
    source: deps.replica.name,
    rto_ms: rtoMs,
    passed: report.passed ? 1 : 0,
    report: canonicalJson(signed).toString('utf8'),
    report_sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  await deps.db.transaction().execute(async (tx) => {
    await deps.repository.insertDrill(tx, stored);
    await deps.record(tx, {
      tenant: null,
      actor,
      action: 'backup.drilled',
      resource: id,
      details: { snapshot: stored.snapshot_id, rto_seconds: report.rto_seconds, passed: report.passed, report_sha256: stored.report_sha256 },
    });
  });
  return signed;
}

async function sampleReceipts(db: Kysely<Database>, inspector: RestoredInspector): Promise<{ sampled: number; verified: number; erased: number }> {
  const rows = await db.selectFrom('receipts').select(['id', 'tenant_id']).orderBy('id', 'desc').limit(DRILL_RECEIPT_SAMPLE).execute();
  const keys = new Map<string, JwkSet>();
  let verified = 0;
  let erased = 0;
  for (const row of rows) {
    try {
      let jwks = keys.get(row.tenant_id);
      if (!jwks) {
        jwks = await inspector.jwks(row.tenant_id);
        keys.set(row.tenant_id, jwks);
      }
      verifyReceipt(await inspector.receiptJson(row.tenant_id, row.id), jwks, { tenant: row.tenant_id });
      verified++;
    } catch (error) {
      // A tenant erased since the snapshot must not read back (crypto-shredding working); anything else counts as not verified.
      if ((error as { code?: unknown }).code === 'SP_ERR_TENANT_ERASED') erased++;
    }
  }
  return { sampled: rows.length - erased, verified, erased };
}

/** The restored database, opened so nothing can write to it (the drill only reads). */
async function openReadOnly(to: RestoreDestination): Promise<DatabaseHandle> {
  if (to.dialect === 'sqlite') {
    const handle = openDatabase({ dialect: 'sqlite', file: path.join(to.dir, 'sealpost.db') });
    // One connection on SQLite: from here on it refuses every write.
    await sql`pragma query_only = on`.execute(handle.db);
    return handle;
  }
  const url = new URL(to.url);
  url.searchParams.set('options', '-c default_transaction_read_only=on');
  return openDatabase({ dialect: 'postgres', url: url.toString() });
}

/** A throw-away database on the live server for a PostgreSQL drill (needs CREATEDB), dropped after. */
async function createScratchDatabase(db: Kysely<Database>, liveUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sealpost_drill_${randomBytes(6).toString('hex')}`;
  await sql`create database ${sql.id(name)}`.execute(db);
  const url = new URL(liveUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(db);
    },
  };
}
