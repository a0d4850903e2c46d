import { describe, expect, it } from 'vitest';
import { snapshotsToPrune } from './backup-retention.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-12-05T10:30:00.000Z');

/** One snapshot every `step` ms, from `span` ago up to now. */
function every(step: number, span: number): { id: string; createdAt: number }[] {
  const out = [];
  for (let t = NOW - span; t <= NOW; t += step) out.push({ id: `s${t}`, createdAt: t });
  return out;
}

describe('backup retention (hourly 48 h, daily 35 d, monthly 12 months)', () => {
  it('keeps every hourly snapshot of the last 48 hours', () => {
    const snapshots = every(HOUR, 47 * HOUR);
    expect(snapshotsToPrune(snapshots, NOW).prune).toEqual([]);
  });

  it('keeps one per hour when snapshots are taken every 5 minutes', () => {
    const snapshots = every(5 * 60_000, 10 * HOUR);
    const { keep } = snapshotsToPrune(snapshots, NOW);
    // 10 hours plus the partial hour at each end: one per distinct hour bucket.
    expect(new Set(keep.map((id) => Math.floor(Number(id.slice(1)) / HOUR))).size).toBe(keep.length);
    expect(keep.length).toBe(11);
    expect(keep[0]).toBe(`s${NOW}`);
  });

  it('thins older snapshots to one per day for 35 days, then one per month for 12 months', () => {
    const snapshots = every(HOUR, 500 * DAY);
    const { keep } = snapshotsToPrune(snapshots, NOW);
    const times = keep.map((id) => Number(id.slice(1)));
    const recent = times.filter((t) => NOW - t < 48 * HOUR);
    expect(recent.length).toBe(48);
    const daily = times.filter((t) => NOW - t >= 48 * HOUR && NOW - t < 35 * DAY);
    expect(new Set(daily.map((t) => Math.floor(t / DAY))).size).toBe(daily.length);
    expect(daily.length).toBeGreaterThanOrEqual(32);
    const old = times.filter((t) => NOW - t >= 35 * DAY);
    // The newest of each month January..September 2026 (October's newest is still a daily one).
    expect(old.map((t) => new Date(t).toISOString().slice(0, 7))).toEqual(['2026-09', '2026-08', '2026-07', '2026-06', '2026-05', '2026-04', '2026-03', '2026-02', '2026-01']);
    // Nothing from more than 12 months back.
    expect(Math.min(...times)).toBeGreaterThan(Date.parse('2025-12-01T00:00:00.000Z'));
  });

  it('always keeps the newest snapshot, however old', () => {
    expect(snapshotsToPrune([{ id: 'old', createdAt: NOW - 900 * DAY }], NOW)).toEqual({ keep: ['old'], prune: [] });
  });
});
