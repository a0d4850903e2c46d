import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.load.js';
import { isDue } from './backup-schedule.js';

const MINUTE = 60_000;

describe('backup schedule', () => {
  it('takes the first snapshot at once, then one per interval (5m tested)', () => {
    const [interval] = loadConfig({ SEALPOST_BACKUP_INTERVAL: '5m' }).backupInterval;
    expect(interval).toBe(5 * MINUTE);
    const t0 = Date.parse('2026-12-05T10:00:00.000Z');
    expect(isDue(undefined, interval!, t0)).toBe(true);
    expect(isDue(t0, interval!, t0 + 4 * MINUTE)).toBe(false);
    expect(isDue(t0, interval!, t0 + 5 * MINUTE)).toBe(true);
  });

  it('defaults to hourly snapshots and quarterly drills, and 0 disables', () => {
    const config = loadConfig({});
    expect(config.backupInterval).toEqual([60 * MINUTE]);
    expect(config.backupDrillInterval).toEqual([90 * 24 * 60 * MINUTE]);
    expect(isDue(undefined, 0, Date.now())).toBe(false);
  });

  it('refuses intervals shorter than 5 minutes, or more than one', () => {
    expect(() => loadConfig({ SEALPOST_BACKUP_INTERVAL: '4m' })).toThrow(/SEALPOST_BACKUP_INTERVAL/);
    expect(() => loadConfig({ SEALPOST_BACKUP_INTERVAL: '1h,2h' })).toThrow(/SEALPOST_BACKUP_INTERVAL/);
    expect(() => loadConfig({ SEALPOST_BACKUP_TARGET: '/backups' })).toThrow(/SEALPOST_BACKUP_REPLICA/);
    expect(() => loadConfig({ SEALPOST_BACKUP_TARGET: 'relative/dir', SEALPOST_BACKUP_REPLICA: '/b' })).toThrow(/absolute directory or s3/);
  });
});
