import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService, createDrillDeps, openBackupTargets, restoreBlobStore, restoreKeyProvider, restoreScrubber } from '../../src/app/backup-services.js';
import { keyringDir } from '../../src/app/key-provider.factory.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { loadConfig } from '../../src/config/config.load.js';
import type { SealpostConfig } from '../../src/config/config.schema.js';
import { attachmentBlobContext } from '../../src/ingest/multipart-upload.js';
import { createLogger } from '../../src/logging/logger.js';
import type { BackupTarget } from '../../src/ops/backup/backup-target.js';
import { runDrill } from '../../src/ops/backup/drill.js';
import { exportKeyring, importKeyring, openRecoveryFile } from '../../src/ops/backup/keyring-recovery.js';
import { restoreSnapshot, type RestoreDestination, type RestoreResult } from '../../src/ops/backup/restore.js';
import { NO_PROGRESS, readAll } from '../../src/ops/backup/snapshot-reader.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const ACTOR = { type: 'system', id: 'test' } as const;

interface Stored {
  readonly tenant: string;
  readonly payloadId: string;
  readonly receiptId: string;
  readonly attachmentId: string;
  readonly attachment: Buffer;
}

/*
 * Crypto-shredding across backups: a snapshot taken before an erasure holds the tenant's rows and
 * wrapped data keys, never its root key. Restored with the keyring as it is after the erasure
 * (its recovery file carries a tombstone for the tenant), nothing of the tenant decrypts, and the
 * other tenants restore intact; drills and scrubbed restores work on such a snapshot.
 */
describe.each(testDialects())('backups after an erasure on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let dir: string;
  let targets: { target: BackupTarget; replica: BackupTarget };
  let a: Stored;
  let b: Stored;
  let snapshotId: string;
  let recovery: { file: Buffer; recoveryKey: string };
  const opened: Sealpost[] = [];
  const databases: TestDatabase[] = [];

  async function store(name: string, apiKey: string, tenant: string): Promise<Stored> {
    const attachment = Buffer.from(`attachment of ${name}: ${'x'.repeat(20_000)}`);
    const form = new FormData();
    form.append('payload', JSON.stringify({ owner: name, secret: `payload secret of ${name}` }));
    form.append('file', new Blob([attachment], { type: 'text/plain' }), 'a.txt');
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: form });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; receipt: { id: string } };
    const read = (await (await app.fetch(`/v1/payloads/${body.id}`, { token: apiKey })).json()) as { envelope: { attachments: { id: string }[] } };
    return { tenant, payloadId: body.id, receiptId: body.receipt.id, attachmentId: read.envelope.attachments[0]!.id, attachment };
  }

  async function readEverything(sealpost: Sealpost, stored: Stored): Promise<{ owner: string; attachment: Buffer; receipt: string }> {
    const payload = await sealpost.payloadRepository.find(stored.tenant, stored.payloadId);
    const attachment = await sealpost.payloadRepository.findAttachment(stored.tenant, stored.attachmentId);
    const blob = await readAll(await sealpost.blobs.getDecrypted(attachment!.blobKey, attachmentBlobContext(stored.tenant, stored.attachmentId), stored.tenant));
    const receipt = await sealpost.receipts.repository.find(stored.tenant, stored.receiptId);
    return { owner: (JSON.parse(payload!.canonicalEnvelope.toString('utf8')) as { data: { owner: string } }).data.owner, attachment: blob, receipt: receipt!.json };
  }

  /** Restores the snapshot onto a new deployment whose keyring comes from the recovery file taken after the erasure. */
  async function restoreElsewhere(scrub: boolean): Promise<{ config: SealpostConfig; result: RestoreResult }> {
    const dataDir = path.join(dir, `restored-${scrub ? 'scrubbed' : 'plain'}`);
    let to: RestoreDestination;
    if (dialect === 'sqlite') to = { dialect: 'sqlite', dir: dataDir };
    else {
      const database = await createTestDatabase('postgres');
      databases.push(database);
      to = { dialect: 'postgres', url: (database.config as { url: string }).url };
    }
    const config = loadConfig({ SEALPOST_DATA_DIR: dataDir, SEALPOST_LOG_LEVEL: 'silent', ...(to.dialect === 'postgres' ? { SEALPOST_DATABASE_URL: to.url } : {}) });
    importKeyring(keyringDir(config), openRecoveryFile(recovery.file, recovery.recoveryKey), false);
    const keyProvider = await restoreKeyProvider(config);
    const result = await restoreSnapshot({
      id: snapshotId,
      source: targets.replica,
      keyProvider,
      to,
      openBlobStore: restoreBlobStore(config, to.dialect === 'sqlite' ? dataDir : undefined),
      environment: 'development',
      force: false,
      progress: NO_PROGRESS,
      actor: ACTOR,
      ...(scrub ? { scrub: restoreScrubber(config, keyProvider) } : {}),
    });
    return { config, result };
  }

  async function start(config: SealpostConfig): Promise<Sealpost> {
    const sealpost = await createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://localhost' });
    opened.push(sealpost);
    return sealpost;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-backup-erasure-'));
    app = await startTestApp(dialect, { env: { SEALPOST_BACKUP_TARGET: path.join(dir, 'a'), SEALPOST_BACKUP_REPLICA: path.join(dir, 'b') } });
    targets = await openBackupTargets(app.context.config);
    const ta = await app.createTenant();
    const tb = await app.createTenant();
    a = await store('a', ta.apiKey, ta.tenant);
    b = await store('b', tb.apiKey, tb.tenant);
    snapshotId = (await createBackupService(app.context, targets).create(ACTOR)).id;
    await app.context.erasure.erase(a.tenant, ACTOR, 'cli');
    // The operator's recovery file as it is now: the tenant's key file is a tombstone in it.
    recovery = exportKeyring(keyringDir(app.context.config));
  });
  afterAll(async () => {
    for (const sealpost of opened) await sealpost.close();
    for (const database of databases) await database.dispose();
    await targets?.target.close();
    await targets?.replica.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cannot decrypt anything of a tenant erased after the snapshot; the other tenant restores intact', async () => {
    const { config, result } = await restoreElsewhere(false);
    expect(result.blobs).toBe(2);
    const restored = await start(config);
    // The snapshot still lists the tenant as live and holds its wrapped data keys: only the root key is gone.
    expect((await restored.tenantRepository.lifecycle(a.tenant))?.erasedAt).toBeNull();
    await expect(restored.payloadRepository.find(a.tenant, a.payloadId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    const blobKey = (await restored.database.db.selectFrom('attachments').select('blob_key').where('id', '=', a.attachmentId).executeTakeFirstOrThrow()).blob_key;
    await expect(readAll(await restored.blobs.getDecrypted(blobKey, attachmentBlobContext(a.tenant, a.attachmentId), a.tenant))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    await expect(restored.receipts.repository.find(a.tenant, a.receiptId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    // Nor does the restored deployment make a new root key for it: the tombstone stands in its place.
    await expect(restored.cipher.encrypt('x', { tenant: a.tenant, table: 'payloads', id: 'msg_y', field: 'envelope' })).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });

    const intact = await readEverything(restored, b);
    expect(intact.owner).toBe('b');
    expect(intact.attachment.equals(b.attachment)).toBe(true);
    expect(JSON.parse(intact.receipt)).toMatchObject({ kind: 'accepted', message_id: b.payloadId, tenant: b.tenant });
  });

  it('scrubs the other tenants and leaves the erased tenant unreadable, without a new key for it', async () => {
    const { config, result } = await restoreElsewhere(true);
    expect(result.scrubbed).toMatchObject({ payloads: 1, attachments: 1, erasedPayloads: 1 });
    expect(readdirSync(keyringDir(config)).filter((f) => f.startsWith('tenant-')).sort()).toEqual([`tenant-${a.tenant}.json`, `tenant-${b.tenant}.json`].sort());
    const restored = await start(config);
    await expect(restored.payloadRepository.find(a.tenant, a.payloadId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    const scrubbed = await readEverything(restored, b);
    expect(scrubbed.owner).not.toBe('b');
    expect(scrubbed.attachment.length).toBe(b.attachment.length);
    expect(scrubbed.attachment.equals(b.attachment)).toBe(false);
  });

  it("passes a drill on the live deployment, counting the erased tenant's receipts as erased, not as failures", async () => {
    const report = await runDrill(createDrillDeps(app.context, targets.replica), ACTOR);
    expect(report.error).toBeUndefined();
    expect(report).toMatchObject({ snapshot: snapshotId, passed: true });
    expect(report.checks.receipts).toEqual({ sampled: 1, verified: 1, erased: 1 });
  });
});
