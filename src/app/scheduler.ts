import { startSigningKeyScheduler } from '../crypto/signing-key.scheduler.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { startPeriodicJob } from '../util/periodic-job.js';
import type { AppContext } from './app-context.js';
import { startBackupJobs } from './backup-scheduler.js';
import { kekRotatedEvent } from './effects.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface Scheduler {
  stop(): Promise<void>;
}

/**
 * Periodic jobs (DESIGN §1 "scheduler"): the quarterly signing-key rotation (checked every 10
 * minutes), signed audit checkpoints every minute while events arrive, daily the local
 * keyring's yearly master-key rotation and the audit retention purge, and with backups
 * configured the snapshots and restore drills (src/app/backup-scheduler.ts).
 * Each job is idempotent, so running the scheduler in more than one process is safe; each runs on
 * the one periodic-job runner (src/util/periodic-job.ts: no overlap, clean stop).
 */
export function startScheduler(context: AppContext): Scheduler {
  const log = context.logger.child({ role: 'scheduler' });
  const signing = startSigningKeyScheduler({ keys: context.receipts.keys, logger: log });
  const checkpointer = context.audit.checkpoints.startCheckpointer({ onError: (err) => log.error({ err }, 'audit checkpoint failed') });
  const daily = async (): Promise<void> => {
    // The local keyring's yearly master key version (AWS KMS rotates its keys itself).
    if (context.keyProvider instanceof LocalKeyring) {
      try {
        const { created } = context.keyProvider.open();
        if (created !== undefined) {
          context.cipher.retireCurrentKey();
          await context.audit.log.appendInOwnTransaction(context.database.db, {
            time: new Date().toISOString(),
            ...kekRotatedEvent(`local:v${created}`, { type: 'system', id: 'scheduler' }),
          });
          log.info({ version: created }, 'local keyring: new master key version');
        }
      } catch (err) {
        log.error({ err }, 'local keyring rotation check failed');
      }
    }
    try {
      const purged = await context.audit.retention.purgeExpired();
      if (purged.purged > 0) log.info({ purged: purged.purged }, 'audit retention purge');
      if (purged.refused.length > 0) {
        log.error({ refused: purged.refused.slice(0, 100), count: purged.refused.length }, 'audit retention left events whose stored columns do not match their leaf hash; run sealpost audit verify');
      }
    } catch (err) {
      log.error({ err }, 'audit retention purge failed');
    }
  };
  // Daily, moved by up to an hour either way so the processes of a fleet do not all run it at once.
  const backups = startBackupJobs(context, log);
  const dailyJob = startPeriodicJob({ intervalMs: DAY_MS, jitter: HOUR_MS / DAY_MS, runAtStart: true, run: daily, onError: (err) => log.error({ err }, 'daily job failed') });
  return {
    async stop() {
      await dailyJob.stop();
      await backups.stop();
      await checkpointer.stop();
      await signing.stop();
    },
  };
}
