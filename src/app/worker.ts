import { startDeliveryWorker, type DeliveryWorker, type DeliveryWorkerOptions } from '../delivery/delivery.worker.js';
import { WorkerHeartbeatRepository } from '../delivery/worker-heartbeat.repository.js';
import type { Sealpost } from './sealpost.js';

/** What tests may set on the worker role (clock, jitter, polling, leases, DNS, trusted CAs). */
export type WorkerRoleOptions = Partial<Pick<DeliveryWorkerOptions, 'workerId' | 'now' | 'random' | 'idlePollMs' | 'extraCa' | 'leaseMarginMs' | 'lookup' | 'heartbeat'>>;

/**
 * The `worker` role: claims due deliveries, signs each request with its tenant's key, sends,
 * and records the attempt with its delivered receipt and audit events. Ingest and the
 * destination API wake it through `sealpost.wakeup`.
 */
export function startWorker(sealpost: Sealpost, options: WorkerRoleOptions = {}): DeliveryWorker {
  const { db, dialect } = sealpost.database;
  const worker = startDeliveryWorker({
    db,
    dialect,
    cipher: sealpost.cipher,
    config: sealpost.config,
    logger: sealpost.logger,
    signer: sealpost.receipts.signer,
    audit: sealpost.effects.delivery.audit,
    hooks: sealpost.effects.delivery,
    ownListeners: sealpost.ownListeners,
    onAttempt: (outcome, statusCode, seconds) => sealpost.metrics.attempted(outcome, statusCode, seconds),
    tracing: sealpost.tracing,
    heartbeat: { store: new WorkerHeartbeatRepository(db), intervalMs: sealpost.config.workerHeartbeatSeconds * 1000 },
    durable: (payloadIds) => sealpost.committer.durableFor(payloadIds),
    ...options,
  });
  const detach = sealpost.wakeup.attach(() => worker.poke());
  return {
    id: worker.id,
    poke: () => worker.poke(),
    health: () => worker.health(),
    async stop() {
      detach();
      await worker.stop();
    },
  };
}
