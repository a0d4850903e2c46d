import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService, openBackupTargets, restoreBlobStore, restoreKeyProvider, restoreScrubber } from '../../src/app/backup-services.js';
import { keyringDir } from '../../src/app/key-provider.factory.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { loadConfig } from '../../src/config/config.load.js';
import { attachmentBlobContext, attachmentBlobKey } from '../../src/ingest/multipart-upload.js';
import { createLogger } from '../../src/logging/logger.js';
import type { BackupTarget } from '../../src/ops/backup/backup-target.js';
import { exportKeyring, importKeyring, openRecoveryFile } from '../../src/ops/backup/keyring-recovery.js';
import { restoreSnapshot, type RestoreDestination } from '../../src/ops/backup/restore.js';
import { NO_PROGRESS, readAll } from '../../src/ops/backup/snapshot-reader.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const ACTOR = { type: 'system', id: 'test' } as const;
const PAYLOAD = {
  customer: 'Zoë Productionsson',
  note: 'PROD-MARKER-alpha: card ending 4242',
  amount: 12345.67,
  count: 7,
  nested: { items: ['PROD-MARKER-beta', 'äöü-unicode-∑'], flag: true, none: null },
};
const ATTACHMENT = Buffer.concat([Buffer.from('%PDF-1.7 PROD-MARKER-gamma '), Buffer.alloc(9_000, 0x41)]);
const FILENAME = 'prod-marker-delta.pdf';

/** Every string leaf of a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** The same value with every leaf replaced by its kind: what "same shape" means. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  if (typeof value === 'string') return `string(${Buffer.byteLength(value)})`;
  if (typeof value === 'number') return `number(${String(Math.trunc(Math.abs(value))).length})`;
  return value;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe.each(testDialects())('scrubbed restore of production data on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let dir: string;
  let targets: { target: BackupTarget; replica: BackupTarget };
  let staging: Sealpost | undefined;
  let stagingDb: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-scrub-'));
    app = await startTestApp(dialect, { env: { SEALPOST_ENVIRONMENT: 'production', SEALPOST_BACKUP_TARGET: path.join(dir, 'a'), SEALPOST_BACKUP_REPLICA: path.join(dir, 'b') } });
    targets = await openBackupTargets(app.context.config);
  });
  afterAll(async () => {
    await staging?.close();
    await stagingDb?.dispose();
    await targets?.target.close();
    await targets?.replica.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no original string of a production payload, keeping ids, counts, timestamps and shape', async () => {
    const { tenant, apiKey } = await app.createTenant();
    const form = new FormData();
    form.append('payload', JSON.stringify(PAYLOAD));
    form.append('invoice', new Blob([ATTACHMENT], { type: 'application/pdf' }), FILENAME);
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: form });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const json = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: JSON.stringify({ second: 'PROD-MARKER-epsilon' }), headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(202);
    const original = (await app.context.payloadRepository.find(tenant, id))!;
    const originalEnvelope = JSON.parse(original.canonicalEnvelope.toString()) as { received_at: string; data: unknown; attachments: { id: string; filename: string; size: number }[] };
    const recovery = exportKeyring(keyringDir(app.context.config));
    const snapshot = await createBackupService(app.context, targets).create(ACTOR);

    const dataDir = path.join(dir, 'staging');
    let to: RestoreDestination;
    if (dialect === 'sqlite') to = { dialect: 'sqlite', dir: dataDir };
    else {
      stagingDb = await createTestDatabase('postgres');
      to = { dialect: 'postgres', url: (stagingDb.config as { url: string }).url };
    }
    const config = loadConfig({ SEALPOST_DATA_DIR: dataDir, SEALPOST_ENVIRONMENT: 'staging', SEALPOST_LOG_LEVEL: 'silent', ...(to.dialect === 'postgres' ? { SEALPOST_DATABASE_URL: to.url } : {}) });
    importKeyring(keyringDir(config), openRecoveryFile(recovery.file, recovery.recoveryKey), false);
    const keyProvider = await restoreKeyProvider(config);
    const base = { id: snapshot.id, source: targets.replica, keyProvider, to, openBlobStore: restoreBlobStore(config, to.dialect === 'sqlite' ? dataDir : undefined), environment: 'staging' as const, force: false, progress: NO_PROGRESS, actor: ACTOR };
    await expect(restoreSnapshot(base)).rejects.toMatchObject({ code: 'SP_ERR_BACKUP_ENVIRONMENT_REFUSED' });
    const result = await restoreSnapshot({ ...base, scrub: restoreScrubber(config, keyProvider) });
    expect(result.scrubbed).toMatchObject({ payloads: 2, attachments: 1 });

    staging = await createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://localhost' });
    const scrubbed = (await staging.payloadRepository.find(tenant, id))!;
    const envelope = JSON.parse(scrubbed.canonicalEnvelope.toString()) as typeof originalEnvelope;
    // Ids, timestamps and shape kept.
    expect(envelope.received_at).toBe(originalEnvelope.received_at);
    expect(shape(envelope.data)).toEqual(shape(originalEnvelope.data));
    expect(envelope.attachments.map((a) => [a.id, a.size, a.filename.length])).toEqual(originalEnvelope.attachments.map((a) => [a.id, a.size, a.filename.length]));
    expect((await staging.payloadRepository.list(tenant, 10)).length).toBe(2);
    const attachment = envelope.attachments[0]!;
    const bytes = await readAll(await staging.blobs.getDecrypted(attachmentBlobKey(tenant, attachment.id), attachmentBlobContext(tenant, attachment.id), tenant));
    expect(bytes.length).toBe(ATTACHMENT.length);

    // No original string anywhere: in the decrypted contents, nor in any file of the staging deployment.
    const originals = [...strings(PAYLOAD), FILENAME, 'PROD-MARKER-gamma', 'PROD-MARKER-epsilon'];
    const everything = [
      scrubbed.canonicalEnvelope.toString(),
      (await staging.payloadRepository.findAttachment(tenant, attachment.id))!.meta.filename,
      bytes.toString('latin1'),
      ...(await Promise.all((await staging.payloadRepository.list(tenant, 10)).map(async (p) => (await staging!.payloadRepository.find(tenant, p.id))!.canonicalEnvelope.toString()))),
      ...filesUnder(dataDir).filter((f) => !f.includes(`${path.sep}keyring${path.sep}`)).map((f) => readFileSync(f).toString('latin1')),
    ].join('\n');
    for (const text of originals) expect(everything.includes(text), text).toBe(false);
    expect(everything).not.toContain('PROD-MARKER');

    const events = await staging.database.db.selectFrom('audit_events').select('action').where('action', 'in', ['backup.restored', 'backup.scrubbed']).orderBy('log_index').execute();
    expect(events.map((e) => e.action)).toEqual(['backup.restored', 'backup.scrubbed']);
  });
});
