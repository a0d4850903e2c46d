import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { verifyReceipt, type JwkSet } from '@sealpost/verify';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService, openBackupTargets, restoreBlobStore, restoreKeyProvider } from '../../src/app/backup-services.js';
import { keyringDir } from '../../src/app/key-provider.factory.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { verifyStoredAuditLog } from '../../src/audit/audit-verify.js';
import { loadConfig } from '../../src/config/config.load.js';
import { attachmentBlobContext, attachmentBlobKey } from '../../src/ingest/multipart-upload.js';
import { createLogger } from '../../src/logging/logger.js';
import type { BackupService } from '../../src/ops/backup/backup.service.js';
import type { BackupTarget } from '../../src/ops/backup/backup-target.js';
import { exportKeyring, importKeyring, openRecoveryFile } from '../../src/ops/backup/keyring-recovery.js';
import { restoreSnapshot, type RestoreDestination } from '../../src/ops/backup/restore.js';
import { NO_PROGRESS, readAll } from '../../src/ops/backup/snapshot-reader.js';
import { manifestKey, objectKey } from '../../src/ops/backup/snapshot-format.js';
import { startS3Server } from '../storage/support/s3-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const ACTOR = { type: 'system', id: 'test' } as const;

interface Original {
  tenant: string;
  payloads: { id: string; envelope: Buffer }[];
  attachments: { tenant: string; id: string; bytes: Buffer }[];
  receipts: { id: string; json: string }[];
  auditEvents: number;
  jwks: JwkSet;
}

describe.each(testDialects())('backups across two regions on %s', { timeout: 240_000 }, (dialect) => {
  let regionA: Awaited<ReturnType<typeof startS3Server>>;
  let regionB: Awaited<ReturnType<typeof startS3Server>>;
  let app: TestApp | undefined;
  let targets: { target: BackupTarget; replica: BackupTarget };
  let backups: BackupService;
  let restoredDb: TestDatabase | undefined;
  let restored: Sealpost | undefined;
  const scratch: string[] = [];
  let regionAStopped = false;

  beforeAll(async () => {
    [regionA, regionB] = await Promise.all([startS3Server(), startS3Server()]);
    app = await startTestApp(dialect, {
      env: {
        SEALPOST_BACKUP_TARGET: 's3://test/backups',
        SEALPOST_BACKUP_TARGET_ENDPOINT: regionA.endpoint,
        SEALPOST_BACKUP_REPLICA: 's3://test/backups',
        SEALPOST_BACKUP_REPLICA_ENDPOINT: regionB.endpoint,
        SEALPOST_AWS_REGION: 'us-east-1',
        SEALPOST_ENVIRONMENT: 'production',
      },
    });
    targets = await openBackupTargets(app.context.config, { credentials: S3_CREDENTIALS });
    backups = createBackupService(app.context, targets);
  });

  afterAll(async () => {
    await restored?.close();
    await restoredDb?.dispose();
    await targets?.target.close();
    await targets?.replica.close();
    await app?.close();
    if (!regionAStopped) await regionA?.stop();
    await regionB?.stop();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  function tempDir(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-restore-'));
    scratch.push(dir);
    return dir;
  }

  async function ingest(live: TestApp, apiKey: string, n: number): Promise<{ id: string; receiptId: string }> {
    const form = new FormData();
    form.append('payload', JSON.stringify({ invoice: `INV-${n}`, secret: `original-content-${n}` }));
    form.append('invoice', new Blob([Buffer.alloc(20_000 + n, n)], { type: 'application/pdf' }), `invoice-${n}.pdf`);
    const res = await live.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: form });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; receipt: { id: string } };
    return { id: body.id, receiptId: body.receipt.id };
  }

  async function snapshotOfLive(live: TestApp, tenant: string, ids: { id: string; receiptId: string }[]): Promise<Original> {
    const ctx = live.context;
    const payloads = [];
    const attachments = [];
    for (const { id } of ids) {
      const found = await ctx.payloadRepository.find(tenant, id);
      payloads.push({ id, envelope: found!.canonicalEnvelope });
      const envelope = JSON.parse(found!.canonicalEnvelope.toString('utf8')) as { attachments: { id: string }[] };
      for (const a of envelope.attachments) {
        attachments.push({ tenant, id: a.id, bytes: await readAll(await ctx.blobs.getDecrypted(attachmentBlobKey(tenant, a.id), attachmentBlobContext(tenant, a.id), tenant)) });
      }
    }
    const receipts = [];
    for (const { receiptId } of ids) receipts.push({ id: receiptId, json: (await ctx.receipts.receipts.get(tenant, receiptId)).json });
    const auditEvents = (await ctx.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    return { tenant, payloads, attachments, receipts, auditEvents: Number(auditEvents), jwks: await ctx.receipts.keys.jwks(tenant) };
  }

  it('backs up to both regions, loses the primary and the live data, and restores every payload, attachment, receipt and audit event from the replica', async () => {
    const live = app!;
    const { tenant, apiKey } = await live.createTenant();
    const ids = [await ingest(live, apiKey, 1), await ingest(live, apiKey, 2)];
    const recovery = exportKeyring(keyringDir(live.context.config));

    const first = await backups.create(ACTOR);
    expect(first.blobsCopied).toBe(2);
    expect(first.rowCounts.payloads).toBe(2);
    ids.push(await ingest(live, apiKey, 3));
    const original = await snapshotOfLive(live, tenant, ids);
    const second = await backups.create(ACTOR);
    // Incremental: only the new attachment is copied.
    expect(second.blobsCopied).toBe(1);
    expect(second.blobCount).toBe(3);

    const listed = await backups.list();
    expect(listed.map((s) => [s.id, s.status])).toEqual([
      [second.id, 'ok'],
      [first.id, 'ok'],
    ]);
    await expect(backups.verify(second.id, 'both')).resolves.toHaveLength(2);
    // A copy lost in one region is flagged.
    await targets.replica.delete(manifestKey(first.id));
    expect((await backups.list()).map((s) => [s.id, s.status])).toEqual([
      [second.id, 'ok'],
      [first.id, 'missing-in-replica'],
    ]);
    const recorded = await live.context.database.db.selectFrom('backup_snapshots').select(['id', 'environment', 'row_counts']).orderBy('created_at').execute();
    expect(recorded.map((r) => r.id)).toEqual([first.id, second.id]);
    expect(JSON.parse(recorded[1]!.row_counts)).toMatchObject({ payloads: 3, attachments: 3 });

    // Region A goes away with the live deployment: database, blobs and keyring.
    await regionA.stop();
    regionAStopped = true;
    await live.close();
    app = undefined;

    const destination = await freshDestination();
    const config = restoredConfig(destination);
    importKeyring(keyringDir(config), openRecoveryFile(recovery.file, recovery.recoveryKey), false);
    const result = await restoreSnapshot({
      id: second.id,
      source: targets.replica,
      keyProvider: await restoreKeyProvider(config),
      to: destination,
      openBlobStore: restoreBlobStore(config, destination.dialect === 'sqlite' ? destination.dir : undefined),
      environment: 'production',
      force: false,
      progress: NO_PROGRESS,
      actor: ACTOR,
    });
    expect(result.blobs).toBe(3);

    restored = await createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://localhost' });
    for (const p of original.payloads) expect((await restored.payloadRepository.find(tenant, p.id))!.canonicalEnvelope.equals(p.envelope)).toBe(true);
    for (const a of original.attachments) {
      expect((await readAll(await restored.blobs.getDecrypted(attachmentBlobKey(a.tenant, a.id), attachmentBlobContext(a.tenant, a.id), a.tenant))).equals(a.bytes)).toBe(true);
    }
    const jwks = await restored.receipts.keys.jwks(tenant);
    expect(jwks).toEqual(original.jwks);
    for (const r of original.receipts) {
      const back = await restored.receipts.receipts.get(tenant, r.id);
      expect(back.json).toBe(r.json);
      expect(verifyReceipt(back.json, jwks, { tenant }).receipt.id).toBe(r.id);
    }
    const events = await restored.database.db.selectFrom('audit_events').select(['action']).orderBy('log_index').execute();
    // Every event up to the dump (the snapshot's own backup.created comes after it), plus the restore's.
    expect(events.length).toBe(original.auditEvents + 1);
    expect(events.at(-1)?.action).toBe('backup.restored');
    const verified = await verifyStoredAuditLog(restored.database.db);
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
  });

  it('detects a flipped bit in a snapshot object before writing anything', async () => {
    const [id] = await replicaSnapshotIds();
    const key = objectKey(id!, 'database');
    const bytes = await readAll(await targets.replica.get(key));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await targets.replica.put(key, Readable.from([bytes]));

    const destination = await freshDestination();
    const config = restoredConfig(destination);
    await expect(
      restoreSnapshot({
        id: id!,
        source: targets.replica,
        keyProvider: await restoreKeyProvider(loadConfig({ SEALPOST_DATA_DIR: restored!.config.dataDir })),
        to: destination,
        openBlobStore: restoreBlobStore(config, destination.dialect === 'sqlite' ? destination.dir : undefined),
        environment: 'production',
        force: false,
        progress: NO_PROGRESS,
        actor: ACTOR,
      }),
    ).rejects.toMatchObject({ code: 'SP_ERR_BACKUP_CORRUPTED' });
    if (destination.dialect === 'sqlite') expect(existsSync(destination.dir) ? readdirSync(destination.dir) : []).toEqual([]);
    else expect(await holdsAnyTable(destination.url)).toBe(false);
  });

  it('refuses to restore over a database that holds data without --force, and production data into staging', async () => {
    const [latest] = await replicaSnapshotIds();
    const destination: RestoreDestination =
      dialect === 'sqlite' ? { dialect: 'sqlite', dir: restored!.config.dataDir } : { dialect: 'postgres', url: (restoredDb!.config as { url: string }).url };
    const base = {
      id: latest!,
      source: targets.replica,
      keyProvider: await restoreKeyProvider(restored!.config),
      to: destination,
      openBlobStore: restoreBlobStore(restored!.config, undefined),
      progress: NO_PROGRESS,
      actor: ACTOR,
    };
    await expect(restoreSnapshot({ ...base, environment: 'production', force: false })).rejects.toMatchObject({ code: 'SP_ERR_BACKUP_TARGET_NOT_EMPTY' });
    await expect(restoreSnapshot({ ...base, environment: 'staging', force: true })).rejects.toMatchObject({ code: 'SP_ERR_BACKUP_ENVIRONMENT_REFUSED' });
  });

  /** Snapshot ids in the replica, newest first (the primary region is gone by then). */
  async function replicaSnapshotIds(): Promise<string[]> {
    const folders = (await targets.replica.list('snapshots/')).filter((k) => k.endsWith('/manifest.json')).map((k) => k.split('/')[1]!);
    return folders.map((f) => `bak_${f.slice('bak_'.length).toUpperCase()}`).sort().reverse();
  }

  let extraDb: TestDatabase | undefined;
  afterAll(async () => {
    await extraDb?.dispose();
  });

  /** A new, empty place to restore to: a directory, or a new PostgreSQL database. */
  async function freshDestination(): Promise<RestoreDestination> {
    if (dialect === 'sqlite') return { dialect: 'sqlite', dir: path.join(tempDir(), 'data') };
    const db = await createTestDatabase('postgres');
    if (!restoredDb) restoredDb = db;
    else extraDb = db;
    return { dialect: 'postgres', url: (db.config as { url: string }).url };
  }

  function restoredConfig(destination: RestoreDestination): ReturnType<typeof loadConfig> {
    const dataDir = destination.dialect === 'sqlite' ? destination.dir : path.join(tempDir(), 'data');
    return loadConfig({
      SEALPOST_DATA_DIR: dataDir,
      ...(destination.dialect === 'postgres' ? { SEALPOST_DATABASE_URL: destination.url } : {}),
      SEALPOST_ENVIRONMENT: 'production',
      SEALPOST_LOG_LEVEL: 'silent',
    });
  }

  async function holdsAnyTable(url: string): Promise<boolean> {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const r = await client.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
      return (r.rows[0] as { n: number }).n > 0;
    } finally {
      await client.end();
    }
  }
});
