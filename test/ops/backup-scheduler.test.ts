import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupRepository } from '../../src/app/backup-services.js';
import { startScheduler } from '../../src/app/scheduler.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('scheduled backups', { timeout: 120_000 }, () => {
  let app: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-scheduled-backup-'));
    app = await startTestApp('sqlite', {
      env: { SEALPOST_BACKUP_TARGET: path.join(dir, 'a'), SEALPOST_BACKUP_REPLICA: path.join(dir, 'b'), SEALPOST_BACKUP_INTERVAL: '5m' },
    });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a snapshot when the scheduler starts with SEALPOST_BACKUP_INTERVAL=5m, and not a second one within the interval', async () => {
    const scheduler = startScheduler(app.context);
    try {
      await expect.poll(async () => (await backupRepository(app.context).liveSnapshots()).length, { timeout: 60_000 }).toBe(1);
    } finally {
      await scheduler.stop();
    }
    // A restarted scheduler finds the recent snapshot in the database and waits.
    const again = startScheduler(app.context);
    await again.stop();
    expect((await backupRepository(app.context).liveSnapshots()).length).toBe(1);
    const events = await app.context.database.db.selectFrom('audit_events').select(['action', 'actor_id']).where('action', '=', 'backup.created').execute();
    expect(events).toEqual([{ action: 'backup.created', actor_id: 'scheduler' }]);
  });
});
