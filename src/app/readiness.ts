import type { DeliveryWorker } from '../delivery/delivery.worker.js';
import { pingDatabase } from '../db/database.js';
import type { ReadinessCheck, ReadinessReport } from '../http/health-listener.js';
import { withTimeout } from '../util/timeout.js';
import type { Scheduler } from './scheduler.js';
import type { Sealpost } from './sealpost.js';

/** The roles running in this process whose state counts towards its readiness. */
export interface ReadinessParts {
  readonly scheduler?: Scheduler;
  readonly worker?: DeliveryWorker;
}

async function databaseCheck(sealpost: Sealpost): Promise<ReadinessCheck> {
  const timeoutMs = sealpost.config.databaseTimeoutSeconds * 1000;
  try {
    await withTimeout(pingDatabase(sealpost.database.db), timeoutMs, () => {
      throw new Error(`no answer within ${timeoutMs} ms`);
    });
    return { ok: true };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The readiness of one process, whatever roles it runs: the database answers, the keyring holds
 * the master key version the database uses, and each role's
 * own work keeps going (the scheduler's jobs run on time and succeed, the worker's claim loop
 * comes round). Served by the health listener and, as pass/fail, by the API's `/readyz`.
 */
export function processReadiness(sealpost: Sealpost, parts: () => ReadinessParts): () => Promise<ReadinessReport> {
  return async () => {
    const checks: Record<string, ReadinessCheck> = { database: await databaseCheck(sealpost) };
    if (sealpost.kekVersions) {
      // The master key version in use is the database's newest, and re-checking it keeps working.
      const keyring = sealpost.kekVersions.health();
      const refresh = sealpost.keyRefresh?.health();
      checks.keyring = { ok: keyring.ok && refresh?.ok !== false, detail: { ...keyring.detail, lastCheckError: refresh?.lastError ?? null } };
    }
    const { scheduler, worker } = parts();
    if (scheduler) {
      const jobs = scheduler.health();
      checks.scheduler = { ok: jobs.every((job) => job.ok), detail: jobs };
    }
    if (worker) checks.worker = worker.health();
    return { ready: Object.values(checks).every((check) => check.ok), checks };
  };
}

/** The same checks as pass/fail, for the API's `/readyz` (which shows callers no detail). */
export function readinessGate(report: () => Promise<ReadinessReport>): () => Promise<void> {
  return async () => {
    const { ready, checks } = await report();
    if (!ready) {
      const failed = Object.entries(checks).filter(([, check]) => !check.ok).map(([name, check]) => ({ name, detail: check.detail }));
      throw new Error(`not ready: ${JSON.stringify(failed)}`);
    }
  };
}
