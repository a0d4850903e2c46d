/*
 * When the scheduler takes a snapshot or runs a drill. Pure, so tested with any clock. The
 * scheduler checks once a minute (snapshots) or once an hour (drills) whether one is due, from
 * the database's record, so several scheduler processes do not each take their own, and a
 * restart does not reset the clock. The recovery point objective is therefore the interval plus
 * at most one check period plus the time a snapshot takes.
 */

/** How often the scheduler looks whether a snapshot is due. */
export const SNAPSHOT_CHECK_MS = 60_000;
/** How often it looks whether a drill is due (intervals of months do not fit a timer). */
export const DRILL_CHECK_MS = 3_600_000;

/** Due when there is none yet, or the last one started at least `intervalMs` ago. `0` disables. */
export function isDue(lastAt: number | undefined, intervalMs: number, now: number): boolean {
  if (intervalMs <= 0) return false;
  return lastAt === undefined || now - lastAt >= intervalMs;
}
