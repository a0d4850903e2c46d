/** Issue 16's targets, printed beside each measured ratio (never asserted: the machine is shared). */
export const TARGETS = {
  /** Ingest req/s over the lean same-work baseline (bench/servers/lean-ingest.ts). */
  ingestToLean: 0.8,
  /** Delivered payloads/s over the store-nothing relay on the same receiver. */
  endToEndToRelay: 0.6,
  /** SMTP messages/s accepted (250, durably) over Haraka discarding the same mail (bench/smtp.bench.ts). */
  smtpToHaraka: 1.0,
  /** ingest→delivered p99 at half the maximum end-to-end rate, evenly paced. */
  p99Ms: 25,
  /** Peak RSS of the api role under sustained ingest. */
  peakRssMb: 250,
  /** RSS growth of the SMTP role while one 25 MB attachment streams in. */
  bigAttachmentRssGrowthMb: 40,
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

/** Target 3, which bench/smtp.bench.ts adds to the same BENCH_JSON file (medians of its rounds). */
export interface SmtpBenchResults {
  readonly date: string;
  readonly rounds: number;
  readonly messages: number;
  readonly connections: number;
  readonly messageKb: number;
  readonly harakaVersion: string;
  readonly sealpostPerSecond: number;
  readonly leanPerSecond: number;
  readonly harakaPerSecond: number;
  readonly sealpostCpuMs: number;
  readonly leanCpuMs: number;
  readonly harakaCpuMs: number;
  readonly ratioToHaraka: number;
  readonly ratioToLean: number;
  /** Lean same-work over Haraka: the most any server doing this work reaches here. */
  readonly ceiling: number;
  readonly bigAttachment: { readonly ms: number; readonly intact: boolean; readonly rssGrowthMb: number };
}

/** What bench/run.ts writes to BENCH_JSON (smtp: added by bench/smtp.bench.ts), and bench/readme-table.ts turns into the README table. */
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
  readonly smtp?: SmtpBenchResults;
  readonly signing: { readonly ratio: number; readonly bareSignPerSecond: number; readonly canonicalizeSignPerSecond: number; readonly storedBodySignPerSecond: number; readonly storedBodyRatio?: number };
}
