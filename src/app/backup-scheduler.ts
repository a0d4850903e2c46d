import type { Logger } from '../logging/logger.js';
import { DRILL_CHECK_MS, SNAPSHOT_CHECK_MS, isDue } from '../ops/backup/backup-schedule.js';
import type { BackupTarget } from '../ops/backup/backup-target.js';
import { runDrill } from '../ops/backup/drill.js';
import { startPeriodicJob, type PeriodicJob } from '../util/periodic-job.js';
import type { AppContext } from './app-context.js';
import { SCHEDULER_ACTOR, backupRepository, createBackupService, createDrillDeps, openBackupTargets } from './backup-services.js';

type Targets = { target: BackupTarget; replica: BackupTarget };

/** Opens the backup targets at first use and closes them with the job. */
function lazyTargets(context: AppContext): { get(): Promise<Targets>; close(): Promise<void> } {
  let opened: Promise<Targets> | undefined;
  return {
    get() {
      opened ??= openBackupTargets(context.config).catch((err: unknown) => {
        opened = undefined;
        throw err;
      });
      return opened;
    },
    async close() {
      const t = await opened?.catch(() => undefined);
      await t?.target.close();
      await t?.replica.close();
    },
  };
}

function closingTargets(job: PeriodicJob, targets: { close(): Promise<void> }): PeriodicJob {
  return {
    runOnce: () => job.runOnce(),
    health: () => job.health(),
    async stop() {
      await job.stop();
      await targets.close();
    },
  };
}

/**
 * The scheduler's snapshot job: a snapshot every SEALPOST_BACKUP_INTERVAL followed by the
 * retention prune. Nothing runs without SEALPOST_BACKUP_TARGET. Due-ness comes from the
 * database, so several scheduler processes and restarts keep one schedule.
 */
export function startBackupSnapshots(context: AppContext, log: Logger, now: () => number = Date.now): PeriodicJob {
  const { config } = context;
  const interval = config.backupInterval[0] ?? 0;
  const targets = lazyTargets(context);
  const repository = backupRepository(context);
  const job = startPeriodicJob({
    name: 'backup-snapshots',
    intervalMs: Math.min(SNAPSHOT_CHECK_MS, interval || SNAPSHOT_CHECK_MS),
    runAtStart: true,
    onError: (err) => log.error({ err }, 'scheduled backup failed'),
    run: async () => {
      if (config.backupTarget === undefined || interval === 0) return;
      if (!isDue(await repository.latestSnapshotAt(), interval, now())) return;
      const backups = createBackupService(context, await targets.get(), now);
      const created = await backups.create(SCHEDULER_ACTOR);
      log.info({ snapshot: created.id, bytes: created.databaseBytes, blobs_copied: created.blobsCopied, ms: created.durationMs }, 'backup: snapshot taken and verified in both targets');
      const pruned = await backups.prune(SCHEDULER_ACTOR);
      if (pruned.length > 0) log.info({ pruned }, 'backup: snapshots past retention removed');
    },
  });
  return closingTargets(job, targets);
}

/** The scheduler's restore drill job: every SEALPOST_BACKUP_DRILL_INTERVAL, from the replica. */
export function startBackupDrills(context: AppContext, log: Logger, now: () => number = Date.now): PeriodicJob {
  const { config } = context;
  const drillInterval = config.backupDrillInterval[0] ?? 0;
  const targets = lazyTargets(context);
  const repository = backupRepository(context);
  const job = startPeriodicJob({
    name: 'backup-drills',
    intervalMs: DRILL_CHECK_MS,
    jitter: 0.1,
    onError: (err) => log.error({ err }, 'scheduled restore drill failed to run'),
    run: async () => {
      if (config.backupTarget === undefined || drillInterval === 0) return;
      if (!isDue(await repository.latestDrillAt(), drillInterval, now())) return;
      // Only once a snapshot exists: a drill on an empty replica would just record a failure.
      if ((await repository.latestSnapshotAt()) === undefined) return;
      const report = await runDrill(createDrillDeps(context, (await targets.get()).replica, now), SCHEDULER_ACTOR);
      if (report.passed) log.info({ drill: report.id, rto_seconds: report.rto_seconds }, 'backup: restore drill passed');
      else log.error({ drill: report.id, error: report.error }, 'backup: restore drill FAILED');
    },
  });
  return closingTargets(job, targets);
}
