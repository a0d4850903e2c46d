// Backup, restore and drill (issue 13): snapshot and restore throughput in MB/s and the restore
// drill's RTO for a deployment of BENCH_BACKUP_PAYLOADS payloads (default 2,000; the issue's
// figure is 100,000: BENCH_BACKUP_PAYLOADS=100000) each with one attachment of
// BENCH_BACKUP_ATTACHMENT_BYTES (default 4 KiB), SQLite, both targets local directories on the
// same disk. Baseline: a plain recursive copy of the same data dir in the same run. Prints
// numbers; asserts nothing. Run: npx tsx --conditions=sealpost-source bench/backup.bench.ts
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createBackupService, createDrillDeps, openBackupTargets, restoreBlobStore, restoreKeyProvider } from '../src/app/backup-services.js';
import { createSealpost } from '../src/app/sealpost.js';
import { loadConfig } from '../src/config/config.load.js';
import { newId } from '../src/crypto/ids.js';
import { attachmentBlobContext, attachmentBlobKey } from '../src/ingest/multipart-upload.js';
import { createLogger } from '../src/logging/logger.js';
import { runDrill } from '../src/ops/backup/drill.js';
import { restoreSnapshot } from '../src/ops/backup/restore.js';
import { NO_PROGRESS, forEachLimit } from '../src/ops/backup/snapshot-reader.js';

const PAYLOADS = Number(process.env.BENCH_BACKUP_PAYLOADS ?? 2_000);
const ATTACHMENT_BYTES = Number(process.env.BENCH_BACKUP_ATTACHMENT_BYTES ?? 4096);
const ACTOR = { type: 'system', id: 'bench' } as const;

const root = mkdtempSync(path.join(os.tmpdir(), 'sealpost-backup-bench-'));
const mbps = (bytes: number, ms: number): string => `${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(1)} MB/s`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Bytes of every file under `dir`. */
function duSync(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(path.join(e.parentPath, e.name)).size, 0);
}

try {
  const env = {
    SEALPOST_DATA_DIR: path.join(root, 'live'),
    SEALPOST_BACKUP_TARGET: path.join(root, 'target'),
    SEALPOST_BACKUP_REPLICA: path.join(root, 'replica'),
    SEALPOST_LOG_LEVEL: 'silent',
  };
  const config = loadConfig(env);
  const sealpost = await createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://localhost' });
  const tenant = (await sealpost.tenants.create('Bench', 'operation')).tenant.id;
  const attachment = Buffer.alloc(ATTACHMENT_BYTES, 0x5a);
  const seeded = Date.now();
  await forEachLimit(Array.from({ length: PAYLOADS }, (_, i) => i), 16, async (i) => {
    const id = newId('attachment');
    const stored = await sealpost.blobs.putEncrypted(attachmentBlobKey(tenant, id), Readable.from([attachment]), attachmentBlobContext(tenant, id), tenant);
    await sealpost.payloads.ingest({
      tenantId: tenant,
      type: 'payload.received',
      source: { channel: 'https', api_key: 'key_bench' },
      data: { invoice: `INV-${i}`, lines: Array.from({ length: 8 }, (_, n) => ({ sku: `SKU-${n}`, qty: n + 1 })) },
      attachments: [{ id, payloadId: '', size: stored.size, sha256: stored.sha256, blobKey: attachmentBlobKey(tenant, id), meta: { filename: `invoice-${i}.pdf`, contentType: 'application/pdf' } }],
    });
  });
  const seedMs = Date.now() - seeded;
  const liveBytes = duSync(config.dataDir);
  console.log(`seeded ${PAYLOADS} payloads with a ${ATTACHMENT_BYTES}-byte attachment each in ${(seedMs / 1000).toFixed(1)} s; data dir ${mb(liveBytes)}`);

  const copyStart = Date.now();
  cpSync(config.dataDir, path.join(root, 'plain-copy'), { recursive: true });
  const copyMs = Date.now() - copyStart;
  console.log(`baseline: plain copy of the data dir: ${mb(liveBytes)} in ${(copyMs / 1000).toFixed(2)} s = ${mbps(liveBytes, copyMs)}`);

  const targets = await openBackupTargets(config);
  const backups = createBackupService(sealpost, targets);
  const first = await backups.create(ACTOR);
  const firstBytes = first.databaseBytes + first.blobBytes;
  console.log(
    `backup create (full): ${mb(firstBytes)} (database ${mb(first.databaseBytes)} + ${first.blobCount} blobs) sealed, put in target, copied to replica and read back from both in ${(first.durationMs / 1000).toFixed(2)} s = ${mbps(firstBytes, first.durationMs)} (${(copyMs / first.durationMs).toFixed(2)}× the plain copy's speed)`,
  );
  const second = await backups.create(ACTOR);
  console.log(`backup create (incremental, no new blobs): database ${mb(second.databaseBytes)} in ${(second.durationMs / 1000).toFixed(2)} s = ${mbps(second.databaseBytes, second.durationMs)}; ${second.blobsCopied} blobs copied`);

  const restoreConfig = loadConfig({ ...env, SEALPOST_DATA_DIR: path.join(root, 'restored') });
  cpSync(path.join(config.dataDir, 'keyring'), path.join(restoreConfig.dataDir, 'keyring'), { recursive: true });
  const restoreStart = Date.now();
  const restored = await restoreSnapshot({
    id: second.id,
    source: targets.replica,
    keyProvider: await restoreKeyProvider(restoreConfig),
    to: { dialect: 'sqlite', dir: restoreConfig.dataDir },
    openBlobStore: restoreBlobStore(restoreConfig, restoreConfig.dataDir),
    environment: 'development',
    force: false,
    progress: NO_PROGRESS,
    actor: ACTOR,
  });
  const restoreMs = Date.now() - restoreStart;
  console.log(`backup restore (from the replica; every object verified before writing, then written): ${mb(restored.bytes)} in ${(restoreMs / 1000).toFixed(2)} s = ${mbps(restored.bytes, restoreMs)}`);

  const drill = await runDrill(createDrillDeps(sealpost, targets.replica), ACTOR);
  console.log(`backup drill: ${drill.passed ? 'passed' : `FAILED (${drill.error ?? ''})`}, RTO ${drill.rto_seconds} s (restore from the replica + audit log verification + ${drill.checks.receipts?.sampled ?? 0} receipts + row counts); the seed's last drill: 22 minutes`);
  await targets.target.close();
  await targets.replica.close();
  await sealpost.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}
