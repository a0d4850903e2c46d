import { hostname } from 'node:os';
import { startSigningKeyScheduler } from '../crypto/signing-key.scheduler.js';
import { withDatabaseLock } from '../db/database-lock.js';
import type { Logger } from '../logging/logger.js';
import { startPeriodicJob, type PeriodicJob, type PeriodicJobHealth } from '../util/periodic-job.js';
import { startPayloadRetention } from '../ops/lifecycle/payload-retention.js';
import type { AppContext } from './app-context.js';
import type { Sealpost } from './sealpost.js';
import { startBackupDrills, startBackupSnapshots } from './backup-scheduler.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface Scheduler {
  stop(): Promise<void>;
  /** Each job's health: the scheduler is ready while every one runs on time and its last run succeeded. */
  health(): PeriodicJobHealth[];
}

/** One entry of the scheduler's job list: starts its periodic job (src/util/periodic-job.ts). */
export interface ScheduledJob {
  readonly name: string;
  start(context: Sealpost, log: Logger): PeriodicJob;
}

/** Signing-key rotations hold this lock: one process at a time, whether scheduler or command. */
const SIGNING_LOCK = 'signing-key-rotation';
/** Longer than one pass over every tenant's keys; a holder that died frees it after this. */
const SIGNING_LOCK_TTL_MS = 10 * 60_000;
/** How long `sealpost keys rotate --signing` waits for a rotation in progress elsewhere. */
export const SIGNING_LOCK_WAIT_MS = 60_000;

/** Runs `work` holding the signing-key rotation lock (see src/db/database-lock.ts). */
export function withSigningKeyLock<T>(context: Pick<AppContext, 'database'>, waitMs: number, work: () => Promise<T>): ReturnType<typeof withDatabaseLock<T>> {
  return withDatabaseLock(context.database.db, SIGNING_LOCK, { holder: `${hostname()}:${process.pid}`, ttlMs: SIGNING_LOCK_TTL_MS, waitMs }, work);
}

/** The local keyring's yearly master key version, once per fleet (AWS KMS rotates its keys itself). */
async function rotateLocalKek(context: AppContext, log: Logger): Promise<void> {
  const rotation = await context.kekVersions?.rotate({ actor: { type: 'system', id: 'scheduler' }, ifDue: true });
  if (rotation?.rotated) log.info({ kek: rotation.current }, 'local keyring: new master key version');
}

async function purgeAudit(context: AppContext, log: Logger): Promise<void> {
  const purged = await context.audit.retention.purgeExpired();
  if (purged.purged > 0) log.info({ purged: purged.purged }, 'audit retention purge');
  if (purged.refused.length > 0) {
    log.error({ refused: purged.refused.slice(0, 100), count: purged.refused.length }, 'audit retention left events whose stored columns do not match their leaf hash; run sealpost audit verify');
  }
}

/** Monthly, to each tenant's owners: API keys older than a year (sent by the first daily run of the month). */
async function sendKeyAgeNotices(context: Sealpost, log: Logger): Promise<void> {
  const told = await context.identity.keyAgeNotices.run();
  if (told > 0) log.info({ tenants: told }, 'old API key notices sent');
}

/** A daily job, moved by up to an hour either way so the processes of a fleet do not all run it at once. */
function daily(name: string, run: (context: Sealpost, log: Logger) => Promise<void>): ScheduledJob {
  return {
    name,
    start: (context, log) =>
      startPeriodicJob({ name, intervalMs: DAY_MS, jitter: HOUR_MS / DAY_MS, runAtStart: true, run: () => run(context, log), onError: (err) => log.error({ err, job: name }, 'scheduled job failed') }),
  };
}

/**
 * The scheduler's jobs (DESIGN §1 "scheduler"); add a job here. Each is idempotent, so running the
 * scheduler in more than one process is safe.
 */
export const SCHEDULED_JOBS: readonly ScheduledJob[] = [
  // The quarterly signing-key rotation, checked every 10 minutes.
  {
    name: 'signing-keys',
    start: (context, log) =>
      startSigningKeyScheduler({
        keys: context.receipts.keys,
        logger: log,
        // Another scheduler checking right now does the same work: skip this turn rather than wait.
        exclusive: async (check) => void (await withSigningKeyLock(context, 0, check)),
      }),
  },
  // Signed audit checkpoints while events arrive.
  {
    name: 'audit-checkpoint',
    start: (context, log) =>
      context.audit.checkpoints.startCheckpointer({ intervalMs: context.config.checkpointIntervalSeconds * 1000, onError: (err) => log.error({ err }, 'audit checkpoint failed') }),
  },
  // The tenants' payload retention, hourly (src/ops/lifecycle/payload-retention.ts).
  { name: 'payload-retention', start: (context, log) => startPayloadRetention({ retention: context.payloadRetention, logger: log }) },
  daily('kek-rotation', rotateLocalKek),
  daily('audit-retention', purgeAudit),
  daily('key-age-notices', sendKeyAgeNotices),
  // Staff grants that ran out get their `staff.access_expired` event within a minute, even if no
  // one uses or lists them (lists and refused uses record it at once too).
  {
    name: 'staff-grant-expiry',
    start: (context, log) =>
      startPeriodicJob({
        name: 'staff-grant-expiry',
        intervalMs: 60_000,
        jitter: 0.1,
        runAtStart: true,
        run: async () => void (await context.staff.grants.recordExpired()),
        onError: (err) => log.error({ err }, 'staff grant expiry sweep failed'),
      }),
  },
  // The 72-hour breach workflow (src/ops/breach/): unsent notices retried, 48 h / 66 h staff alerts, every minute.
  {
    name: 'breach-notices',
    start: (context, log) =>
      startPeriodicJob({
        name: 'breach-notices',
        intervalMs: 60_000,
        jitter: 0.1,
        runAtStart: true,
        run: () => context.breaches.run(),
        onError: (err) => log.error({ err }, 'breach notice run failed'),
      }),
  },
  // The status page's probes of this deployment's own listeners, and their 90-day samples (src/status/).
  {
    name: 'status-probes',
    start: (context, log) =>
      startPeriodicJob({
        name: 'status-probes',
        intervalMs: context.config.statusProbeIntervalSeconds * 1000,
        jitter: 0.1,
        runAtStart: true,
        run: async () => void (await context.status.components.run()),
        onError: (err) => log.error({ err }, 'status probes failed'),
      }),
  },
  // Status notices queued with each incident update, out within a minute: mails to confirmed
  // e-mail subscribers, and one `status.notice` payload of the deployment tenant for webhook subscribers.
  {
    name: 'status-notices',
    start: (context, log) =>
      startPeriodicJob({
        name: 'status-notices',
        intervalMs: 10_000,
        jitter: 0.1,
        runAtStart: true,
        run: async () => {
          await context.status.webhooks.ingestPending();
          await context.status.subscriptions.sendPending();
        },
        onError: (err) => log.error({ err }, 'status notices failed'),
      }),
  },
  // With SEALPOST_BACKUP_TARGET: snapshots and restore drills (src/app/backup-scheduler.ts); idle otherwise.
  { name: 'backup-snapshots', start: (context, log) => startBackupSnapshots(context, log) },
  { name: 'backup-drills', start: (context, log) => startBackupDrills(context, log) },
];

/**
 * The `scheduler` role: runs every job of {@link SCHEDULED_JOBS} on the one periodic-job runner
 * (no overlap, clean stop, health). Its timers do not keep the process alive: `sealpost start`
 * does, until it is told to stop.
 */
export function startScheduler(context: Sealpost, jobs: readonly ScheduledJob[] = SCHEDULED_JOBS): Scheduler {
  const log = context.logger.child({ role: 'scheduler' });
  const running = jobs.map((job) => job.start(context, log));
  return {
    async stop() {
      await Promise.all(running.map((job) => job.stop()));
    },
    health: () => running.map((job) => job.health()),
  };
}
