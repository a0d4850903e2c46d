import type { Logger } from '../app/logger.js';
import type { SigningKeyService } from './signing-key.service.js';

/**
 * How often the schedule is checked. A key due for replacement is replaced at most this late;
 * the active key's published `exp` moves with an overdue replacement, so lateness never makes
 * a signature unverifiable.
 */
export const SIGNING_KEY_CHECK_MS = 10 * 60_000;

export interface SigningKeyScheduler {
  /** Runs one check now (tests, and `start` before it serves). */
  runOnce(): Promise<void>;
  /** Stops the timer and waits for a check in progress. */
  stop(): Promise<void>;
}

/**
 * The signing key schedule (DESIGN §6): creates the first key, replaces the active key once it
 * is 90 days old, retires replaced keys 90 days after their replacement. Every process may run
 * it: each step is conditional on the state it changes, so racing processes make exactly one
 * new key per rotation. The first check runs at once.
 */
export function startSigningKeyScheduler(options: { keys: SigningKeyService; logger: Logger; intervalMs?: number }): SigningKeyScheduler {
  const { keys } = options;
  const log = options.logger.child({ component: 'signing-key-scheduler' });
  const intervalMs = options.intervalMs ?? SIGNING_KEY_CHECK_MS;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const check = async (): Promise<void> => {
    try {
      const rotation = await keys.rotateIfDue();
      if (rotation.rotated) log.info({ kid: rotation.active, replaced: rotation.replaced }, rotation.replaced ? 'signing key rotated' : 'first signing key created');
      const retired = await keys.retireExpired();
      if (retired.length > 0) log.info({ kids: retired }, 'signing keys retired; they stay listed in /.well-known/jwks-archive.json');
    } catch (err) {
      log.error({ err }, 'signing key schedule check failed; retrying at the next check');
    }
  };

  const runOnce = (): Promise<void> => {
    running = running.then(check);
    return running;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  void runOnce().finally(schedule);

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
