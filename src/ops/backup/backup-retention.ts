/*
 * Which snapshots to keep (grandfather-father-son): the newest of each hour for 48 hours, of each
 * UTC day for 35 days, of each UTC month for 12 months, and always the newest of all. Pure, so
 * the scheduler's pruning is tested with any clock.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const RETENTION = { hourlyHours: 48, dailyDays: 35, monthlyMonths: 12 } as const;

export interface SnapshotTime {
  readonly id: string;
  readonly createdAt: number;
}

export function snapshotsToPrune(snapshots: readonly SnapshotTime[], now: number): { keep: string[]; prune: string[] } {
  const newestFirst = [...snapshots].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const keep = new Set<string>();
  if (newestFirst[0]) keep.add(newestFirst[0].id);
  const nowDate = new Date(now);
  const monthsAgo = (t: number): number => {
    const d = new Date(t);
    return (nowDate.getUTCFullYear() - d.getUTCFullYear()) * 12 + (nowDate.getUTCMonth() - d.getUTCMonth());
  };
  const buckets: { within: (t: number) => boolean; bucket: (t: number) => number }[] = [
    { within: (t) => now - t < RETENTION.hourlyHours * HOUR_MS, bucket: (t) => Math.floor(t / HOUR_MS) },
    { within: (t) => now - t < RETENTION.dailyDays * DAY_MS, bucket: (t) => Math.floor(t / DAY_MS) },
    { within: (t) => monthsAgo(t) < RETENTION.monthlyMonths, bucket: (t) => new Date(t).getUTCFullYear() * 12 + new Date(t).getUTCMonth() },
  ];
  for (const { within, bucket } of buckets) {
    const seen = new Set<number>();
    for (const s of newestFirst) {
      if (!within(s.createdAt)) continue;
      const b = bucket(s.createdAt);
      if (seen.has(b)) continue;
      seen.add(b);
      keep.add(s.id);
    }
  }
  return { keep: newestFirst.filter((s) => keep.has(s.id)).map((s) => s.id), prune: newestFirst.filter((s) => !keep.has(s.id)).map((s) => s.id) };
}
