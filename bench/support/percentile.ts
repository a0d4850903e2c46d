/** The q-quantile (0..1) of ascending `sorted` values (nearest rank), or null for none. */
export function percentile(sorted: readonly number[], q: number): number | null {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null;
}
