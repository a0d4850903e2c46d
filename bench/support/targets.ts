/** Issue 16's targets, printed beside each measured ratio (never asserted: the machine is shared). */
export const TARGETS = {
  /** Ingest req/s over the lean same-work baseline (bench/servers/lean-ingest.ts). */
  ingestToLean: 0.8,
  /** Delivered payloads/s over the store-nothing relay on the same receiver. */
  endToEndToRelay: 0.6,
  /** ingest→delivered p99 at half the maximum end-to-end rate, evenly paced. */
  p99Ms: 25,
  /** Peak RSS of the api role under sustained ingest. */
  peakRssMb: 250,
  /**
   * Signing a forwarded payload over a bare Ed25519 signature of the same bytes. Judged as the
   * issue's first means has it: canonical bytes made once at ingest, reused by every signature;
   * canonicalising from the object each time is printed beside it.
   */
  signToBare: 0.8,
} as const;

/** The median of the values (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** What bench/run.ts writes to BENCH_JSON, and scripts/bench-table.ts turns into the README table. */
export interface BenchResults {
  readonly date: string;
  readonly machine: string;
  readonly node: string;
  readonly database: 'sqlite' | 'postgresql';
  readonly rounds: number;
  readonly seconds: number;
  readonly connections: number;
  readonly ingest: {
    readonly sealpostPerSecond: number;
    readonly leanPerSecond: number | null;
    readonly barePerSecond: number;
    readonly sealpostCpuUs: number;
    readonly leanCpuUs: number | null;
    readonly bareCpuUs: number;
    readonly ratioToLean: number | null;
    readonly ratioToBare: number;
    readonly sealpostP99: number;
    readonly refused: number;
  };
  readonly peakRssMb: number;
  readonly endToEnd: { readonly sealpostPerSecond: number; readonly relayPerSecond: number; readonly ratio: number };
  readonly paced: { readonly rate: number; readonly seconds?: number; readonly p50: number; readonly p99: number };
  readonly signing: { readonly ratio: number; readonly bareSignPerSecond: number; readonly canonicalizeSignPerSecond: number; readonly storedBodySignPerSecond: number; readonly storedBodyRatio?: number };
}
