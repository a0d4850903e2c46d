import type { Logger } from '../logging/logger.js';
import { startPeriodicJob, type PeriodicJob } from '../util/periodic-job.js';
import type { SigningKeyService } from './signing-key.service.js';

/**
 * How often the schedule is checked. A key due for replacement is replaced at most this late;
 * the active key's published `exp` moves with an overdue replacement, so lateness never makes
 * a signature unverifiable.
 */
export const SIGNING_KEY_CHECK_MS = 10 * 60_000;

/** `runOnce()` runs one check now (tests); `stop()` waits for a check in progress. */
export type SigningKeyScheduler = PeriodicJob;

const SCHEDULER = { type: 'system', id: 'scheduler' } as const;

/**
 * The signing key schedule (DESIGN §6), for every tenant: replaces a tenant's active key once it
 * is 90 days old (each rotation audited as `signing_key.rotated`), retires replaced keys 90 days
 * after their replacement. A tenant's first key is made on its first signature. Every process
 * may run it: each step is conditional on the state it changes, so racing processes make exactly
 * one new key per rotation. The first check runs at once.
 */
export function startSigningKeyScheduler(options: {
  keys: SigningKeyService;
  logger: Logger;
  intervalMs?: number;
  /** Runs each check holding the deployment's rotation lock (src/app/scheduler.ts), so schedulers on several hosts take turns. */
  exclusive?: (check: () => Promise<void>) => Promise<void>;
}): SigningKeyScheduler {
  const { keys } = options;
  const log = options.logger.child({ component: 'signing-key-scheduler' });
  const intervalMs = options.intervalMs ?? SIGNING_KEY_CHECK_MS;
  const check = async (): Promise<void> => {
    for (const rotation of await keys.rotateDue(SCHEDULER)) {
      if (rotation.rotated) log.info({ tenant: rotation.tenant, kid: rotation.active, replaced: rotation.replaced }, 'signing key rotated');
    }
    const retired = await keys.retireExpired();
    if (retired.length > 0) log.info({ keys: retired }, "signing keys retired; they stay listed in their tenant's jwks-archive.json");
  };
  return startPeriodicJob({
    name: 'signing-keys',
    intervalMs,
    runAtStart: true,
    run: options.exclusive ? () => options.exclusive!(check) : check,
    onError: (err) => log.error({ err }, 'signing key schedule check failed; retrying at the next check'),
  });
}
