import { startSigningKeyScheduler } from '../crypto/signing-key.scheduler.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { startPeriodicJob } from '../util/periodic-job.js';
import type { AppContext } from './app-context.js';
import type { IdentityServices } from './sealpost.js';
import type { StaffServices } from './staff-services.js';
import { kekRotatedEvent } from './effects.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface Scheduler {
  stop(): Promise<void>;
}

/**
 * Periodic jobs (DESIGN §1 "scheduler"): the quarterly signing-key rotation (checked every 10
 * minutes), signed audit checkpoints every minute while events arrive, and daily the local
 * keyring's yearly master-key rotation, the audit retention purge and the monthly notice of old
 * API keys to owners; every minute, the expiry events of staff grants that ran out.
 * Each job is idempotent, so running the scheduler in more than one process is safe; each runs on
 * the one periodic-job runner (src/util/periodic-job.ts: no overlap, clean stop).
 */
export function startScheduler(context: AppContext & { readonly identity?: Pick<IdentityServices, 'keyAgeNotices'>; readonly staff?: Pick<StaffServices, 'grants'> }): Scheduler {
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
    // Monthly, to each tenant's owners: API keys older than a year (sent by the first daily run of the month).
    try {
      const told = (await context.identity?.keyAgeNotices.run()) ?? 0;
      if (told > 0) log.info({ tenants: told }, 'old API key notices sent');
    } catch (err) {
      log.error({ err }, 'old API key notices failed');
    }
  };
  // Staff grants that ran out get their `staff.access_expired` event within a minute, even if
  // no one uses or lists them (lists and refused uses record it at once too).
  const grants = context.staff?.grants;
  const expiryJob = grants
    ? startPeriodicJob({ intervalMs: 60_000, jitter: 0.1, runAtStart: true, run: async () => void (await grants.recordExpired()), onError: (err) => log.error({ err }, 'staff grant expiry sweep failed') })
    : undefined;
  // Daily, moved by up to an hour either way so the processes of a fleet do not all run it at once.
  const dailyJob = startPeriodicJob({ intervalMs: DAY_MS, jitter: HOUR_MS / DAY_MS, runAtStart: true, run: daily, onError: (err) => log.error({ err }, 'daily job failed') });
  return {
    async stop() {
      await dailyJob.stop();
      await expiryJob?.stop();
      await checkpointer.stop();
      await signing.stop();
    },
  };
}
