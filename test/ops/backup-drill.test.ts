import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupRepository, createBackupService, createDrillDeps, openBackupTargets, restoreBlobStore } from '../../src/app/backup-services.js';
import { restoreSnapshot, type RestoreDestination } from '../../src/ops/backup/restore.js';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { canonicalJson } from '../../src/crypto/canonical-json.js';
import type { BackupTarget } from '../../src/ops/backup/backup-target.js';
import { runDrill } from '../../src/ops/backup/drill.js';
import { NO_PROGRESS, readAll } from '../../src/ops/backup/snapshot-reader.js';
import { objectKey } from '../../src/ops/backup/snapshot-format.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, testDialects } from '../support/test-database.js';

const ACTOR = { type: 'system', id: 'test' } as const;

describe.each(testDialects())('restore drills on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let dir: string;
  let targets: { target: BackupTarget; replica: BackupTarget };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-drill-test-'));
    app = await startTestApp(dialect, { env: { SEALPOST_BACKUP_TARGET: path.join(dir, 'a'), SEALPOST_BACKUP_REPLICA: path.join(dir, 'b') } });
    targets = await openBackupTargets(app.context.config);
    const { apiKey } = await app.createTenant();
    for (let i = 0; i < 3; i++) {
      const res = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: JSON.stringify({ n: i }), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(202);
    }
  });
  afterAll(async () => {
    await targets?.target.close();
    await targets?.replica.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restores the newest replica snapshot, verifies it, and records the RTO with a signed report', async () => {
    const snapshot = await createBackupService(app.context, targets).create(ACTOR);
    const report = await runDrill(createDrillDeps(app.context, targets.replica), ACTOR);
    expect(report).toMatchObject({ snapshot: snapshot.id, passed: true, source: targets.replica.name });
    expect(report.checks.audit?.ok).toBe(true);
    expect(report.checks.receipts).toEqual({ sampled: 3, verified: 3, erased: 0 });
    expect(report.checks.row_counts?.mismatched).toEqual([]);
    expect(report.rto_seconds).toBeGreaterThanOrEqual(0);

    // The report verifies with the audit log key, apart from the database.
    const { sig, ...body } = report;
    const key = await app.context.audit.keys.currentKey();
    expect((sig as { kid: string }).kid).toBe(key.id);
    const publicKey = createPublicKey(key.privateKey);
    expect(verify(null, canonicalJson(body), publicKey, Buffer.from((sig as { value: string }).value, 'base64url'))).toBe(true);

    const [stored] = await backupRepository(app.context).drills(1);
    expect(stored).toMatchObject({ id: report.id, snapshot_id: snapshot.id, passed: 1 });
    const events = await app.context.database.db.selectFrom('audit_events').select('event').where('action', '=', 'backup.drilled').execute();
    expect(events.map((e) => JSON.parse(e.event ?? '{}') as AuditEvent)).toEqual([
      expect.objectContaining({ resource: report.id, details: expect.objectContaining({ snapshot: snapshot.id, passed: true, report_sha256: stored!.report_sha256 }) }),
    ]);

    // The metrics an operator alerts on see the snapshot and the passing drill.
    const metrics = await app.context.metrics.registry.getMetricsAsJSON();
    const value = (name: string): number | undefined => metrics.find((m) => m.name === name)?.values[0]?.value;
    expect(value('sealpost_backup_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('sealpost_backup_drill_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('sealpost_backup_drill_rto_seconds')).toBeCloseTo(report.rto_seconds, 0);
  });

  it('restores into a database that was migrated but never used', async () => {
    const snapshot = await createBackupService(app.context, targets).create(ACTOR);
    const fresh = await createTestDatabase(dialect);
    try {
      await fresh.openMigrated();
      const to: RestoreDestination = fresh.config.dialect === 'postgres' ? { dialect: 'postgres', url: fresh.config.url } : { dialect: 'sqlite', dir: path.dirname(fresh.config.file) };
      const result = await restoreSnapshot({
        id: snapshot.id,
        source: targets.target,
        keyProvider: app.context.keyProvider,
        to,
        openBlobStore: restoreBlobStore(app.context.config, path.join(fresh.dir, 'data')),
        environment: 'development',
        force: false,
        progress: NO_PROGRESS,
        actor: ACTOR,
      });
      expect(result.manifest.row_counts.payloads).toBe(3);
      const handle = fresh.open();
      expect((await handle.db.selectFrom('payloads').select('id').execute()).length).toBe(3);
    } finally {
      await fresh.dispose();
    }
  });

  it('records a failed drill when the replica copy is corrupted', async () => {
    const snapshot = await createBackupService(app.context, targets).create(ACTOR);
    const key = objectKey(snapshot.id, 'database');
    const bytes = await readAll(await targets.replica.get(key));
    bytes[bytes.length - 1]! ^= 0x80;
    await targets.replica.put(key, Readable.from([bytes]));
    const report = await runDrill(createDrillDeps(app.context, targets.replica), ACTOR);
    expect(report).toMatchObject({ snapshot: snapshot.id, passed: false, error: expect.stringContaining('SP_ERR_BACKUP_CORRUPTED') });
    const [stored] = await backupRepository(app.context).drills(1);
    expect(stored).toMatchObject({ id: report.id, passed: 0 });
  });
});
