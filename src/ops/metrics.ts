import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsRepository } from './metrics.repository.js';

export type IngestChannel = 'https' | 'smtp' | 'system';
export type IngestOutcome = 'accepted' | 'replayed' | 'refused';

/** Seconds; ingest is a few milliseconds when healthy, seconds when the database or KMS struggles. */
const INGEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; receivers answer in tens of milliseconds to the 15 s default timeout. */
const ATTEMPT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** What the services report as they work; the gauges are read from the database at each scrape. */
export interface Metrics {
  readonly registry: Registry;
  ingested(channel: IngestChannel, outcome: IngestOutcome, seconds: number): void;
  /** `outcome` is `succeeded` or the attempt's error class (`http_status`, `timeout`, `tls`…). */
  attempted(outcome: string, statusCode: number | null, seconds: number): void;
  /** Adds the process metrics (CPU, memory, event loop); only where a listener serves them. */
  collectProcessMetrics(): void;
}

/** `2xx`…`5xx`, or `none` when the receiver never answered: a bounded label, unlike the code itself. */
function statusClass(code: number | null): string {
  return code === null ? 'none' : `${Math.floor(code / 100)}xx`;
}

/**
 * Sealpost's Prometheus metrics, in a registry of their own (one per process's Sealpost, so test
 * apps in one process do not share counters). Names follow Prometheus conventions: `_total`
 * counters, `_seconds` units.
 */
export function createMetrics(repository: MetricsRepository, now: () => number = Date.now): Metrics {
  const registry = new Registry();
  const ingestTotal = new Counter({
    name: 'sealpost_ingest_total',
    help: 'Payloads offered for ingest, by channel and outcome (accepted, replayed for a repeated Idempotency-Key, refused)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  });
  const ingestSeconds = new Histogram({
    name: 'sealpost_ingest_duration_seconds',
    help: 'Time from a parsed payload to its committed record (sealing, signing the receipt, the transaction), by channel',
    labelNames: ['channel'] as const,
    buckets: INGEST_BUCKETS,
    registers: [registry],
  });
  const attemptsTotal = new Counter({
    name: 'sealpost_delivery_attempts_total',
    help: 'Delivery attempts by outcome (succeeded or the error class) and the receiver\'s status class',
    labelNames: ['outcome', 'status_class'] as const,
    registers: [registry],
  });
  const attemptSeconds = new Histogram({
    name: 'sealpost_delivery_attempt_duration_seconds',
    help: 'Duration of delivery attempts, by outcome',
    labelNames: ['outcome'] as const,
    buckets: ATTEMPT_BUCKETS,
    registers: [registry],
  });
  // One read of the queues serves both gauges of a scrape (the registry collects them together).
  let queues: ReturnType<MetricsRepository['queues']> | undefined;
  const readQueues = (): ReturnType<MetricsRepository['queues']> => (queues ??= repository.queues().finally(() => setImmediate(() => (queues = undefined))));
  new Gauge({
    name: 'sealpost_delivery_queue_depth',
    help: 'Pending deliveries per destination',
    labelNames: ['destination'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of await readQueues()) this.set({ destination: q.destinationId }, q.pending);
    },
  });
  new Gauge({
    name: 'sealpost_delivery_oldest_due_age_seconds',
    help: 'How long the most overdue pending delivery of each destination has been due (0 when none is due yet)',
    labelNames: ['destination'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const time = now();
      for (const q of await readQueues()) this.set({ destination: q.destinationId }, Math.max(0, (time - q.earliestDue) / 1000));
    },
  });
  new Gauge({
    name: 'sealpost_signing_key_age_seconds',
    help: 'Age of the oldest signing key still active for a tenant (keys rotate every 90 days; alert well past that)',
    registers: [registry],
    async collect() {
      const oldest = await repository.oldestActiveSigningKey();
      this.set(oldest === undefined ? 0 : (now() - oldest) / 1000);
    },
  });
  new Gauge({
    name: 'sealpost_audit_checkpoint_age_seconds',
    help: 'Age of the newest signed audit checkpoint (signed every minute while events arrive); -1 before the first',
    registers: [registry],
    async collect() {
      const latest = await repository.latestCheckpoint();
      this.set(latest === undefined ? -1 : (now() - latest) / 1000);
    },
  });

  // Backups: alert when the newest snapshot is older than a few intervals (RPO at risk) or the
  // last passing drill older than a quarter and a bit (recovery no longer proven).
  new Gauge({
    name: 'sealpost_backup_age_seconds',
    help: 'Age of the newest kept backup snapshot (taken every SEALPOST_BACKUP_INTERVAL); -1 before the first',
    registers: [registry],
    async collect() {
      const latest = await repository.latestBackup();
      this.set(latest === undefined ? -1 : (now() - latest) / 1000);
    },
  });
  new Gauge({
    name: 'sealpost_backup_drill_age_seconds',
    help: 'Age of the newest restore drill that passed (quarterly by default); -1 before the first',
    registers: [registry],
    async collect() {
      const latest = await repository.latestPassedDrill();
      this.set(latest === undefined ? -1 : (now() - latest.startedAt) / 1000);
    },
  });
  new Gauge({
    name: 'sealpost_backup_drill_rto_seconds',
    help: 'Recovery time measured by the newest restore drill that passed; -1 before the first',
    registers: [registry],
    async collect() {
      const latest = await repository.latestPassedDrill();
      this.set(latest === undefined ? -1 : latest.rtoMs / 1000);
    },
  });

  let processMetrics = false;
  return {
    registry,
    ingested(channel, outcome, seconds) {
      ingestTotal.inc({ channel, outcome });
      if (outcome !== 'refused') ingestSeconds.observe({ channel }, seconds);
    },
    attempted(outcome, statusCode, seconds) {
      attemptsTotal.inc({ outcome, status_class: statusClass(statusCode) });
      attemptSeconds.observe({ outcome }, seconds);
    },
    collectProcessMetrics() {
      if (processMetrics) return;
      processMetrics = true;
      collectDefaultMetrics({ register: registry, prefix: 'sealpost_' });
    },
  };
}
