import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Kysely } from 'kysely';
import type { Logger } from '../logging/logger.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { SealpostConfig } from '../config/config.schema.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
import type { Dialect } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { AttemptRecorder } from './attempt.recorder.js';
import { AttemptRepository, type AttemptResultInput, type CompletionResult } from './attempt.repository.js';
import { forwardHeaders } from './forwarded-request.js';
import { HttpSender, type SendOutcome } from './http-sender.js';
import type { OwnListeners } from './own-listeners.js';
import { OutboxRepository, type ClaimedDelivery, type SendMaterial } from './outbox.repository.js';
import type { DeliveryHooks, RequestSigner } from './request-signer.js';
import { nextStep, type AttemptResult } from './retry-policy.js';
import { AddressPolicy } from './ssrf-guard.js';
import { NO_TRACING, type Tracing } from '../ops/tracing.js';
import { startPeriodicJob } from '../util/periodic-job.js';
import type { DeadWorkers } from './worker-heartbeat.repository.js';

const DAY_MS = 86_400_000;
/** How often an idle worker looks for due deliveries; a poke() or a finished send wakes it sooner. */
export const IDLE_POLL_MS = 250;
/** Free slots are refilled once this fraction (1/n) of them is free, so one claim serves several sends. */
const REFILL_FRACTION = 4;
/**
 * While sends are in flight, claims are at least this far apart: each finished send wakes the
 * worker, and with destinations at their concurrency limit every wake-up claimed again — one
 * claim query per delivery. Waiting a little lets one claim serve the sends that finished meanwhile.
 */
const CLAIM_GATHER_MS = 10;
/** After a failed claim (database down) the worker waits this long before the next try. */
const CLAIM_ERROR_BACKOFF_MS = 1_000;
/** A claim loop that has not come round for this long is wedged: the worker reports itself not ready. */
const LOOP_STALL_MS = 30_000;
/**
 * A worker whose heartbeat is this many intervals old is dead: one missed beat can be a slow
 * database round trip or a pause, three in a row is a process that is gone.
 */
export const DEAD_AFTER_HEARTBEATS = 3;

/** Where workers record that they are alive and release the leases of those that are not. */
export interface WorkerHeartbeats {
  beat(workerId: string, now: number): Promise<void>;
  remove(workerId: string): Promise<void>;
  releaseDead(now: number, deadBefore: number): Promise<DeadWorkers>;
}

export type DeliveryWorkerConfig = Pick<
  SealpostConfig,
  'retrySchedule' | 'deliveryTimeoutSeconds' | 'workerConcurrency' | 'destinationDisableAfterDays' | 'allowPrivateDestinations' | 'allowHttpDestinations'
>;

export interface DeliveryWorkerOptions {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  readonly cipher: RecordCipher;
  readonly config: DeliveryWorkerConfig;
  readonly logger: Logger;
  /** Signs every forwarded request (DESIGN §4); there is no unsigned mode. */
  readonly signer: RequestSigner;
  /** Records the worker's own audit events (`destination.disabled`) in the transaction of the change. */
  readonly audit: AuditRecorder;
  readonly hooks?: DeliveryHooks;
  /** Names this worker in leases and attempt records; unique per process by default. */
  readonly workerId?: string;
  /** Clock for schedules, leases and auto-disable (tests move it forward). */
  readonly now?: () => number;
  /** Jitter source, in [0, 1). */
  readonly random?: () => number;
  readonly idlePollMs?: number;
  /** PEM certificates trusted for destinations besides the system's (receivers behind a private CA). */
  readonly extraCa?: string;
  /** Added to the destination's timeout to make the lease; tests shorten it to see dead workers' leases expire. */
  readonly leaseMarginMs?: number;
  /** Resolves once the ingests of these payloads are on disk (SQLite's WAL flusher); awaited before sending what was claimed. */
  readonly durable?: (payloadIds: readonly string[]) => Promise<void>;
  /** This deployment's API listeners: a send that would reach one is refused (`loop_refused`). */
  readonly ownListeners?: OwnListeners;
  /** DNS for destination names (tests); the system resolver by default. */
  readonly lookup?: ConstructorParameters<typeof HttpSender>[4];
  /** Told of every attempt: `succeeded` or its error class, the receiver's status, the duration (the metrics). */
  readonly onAttempt?: (outcome: string, statusCode: number | null, seconds: number) => void;
  /** A client span per attempt, sent to the destination as `traceparent`; none by default. */
  readonly tracing?: Tracing;
  /**
   * Heartbeats every `intervalMs` (SEALPOST_WORKER_HEARTBEAT_SECONDS); each beat also ends the
   * leases of workers silent for {@link DEAD_AFTER_HEARTBEATS} intervals.
   */
  readonly heartbeat?: { readonly store: WorkerHeartbeats; readonly intervalMs: number };
}

export interface DeliveryWorker {
  readonly id: string;
  /** Look for due deliveries now (the API calls it after an ingest). */
  poke(): void;
  /** Stops claiming, waits for in-flight sends to be recorded, closes the connection pools. */
  stop(): Promise<void>;
  /** Ready while the claim loop comes round and its last claim reached the database. */
  health(): { ok: boolean; detail: { lastLoopAt: string; lastClaimError: string | null; inFlight: number; lastHeartbeatAt: string | null } };
}

/**
 * Claims due deliveries with a lease, sends them, records every attempt and schedules the next.
 * Up to `workerConcurrency` sends at once; per-destination `max_concurrency` is applied when claiming.
 */
export function startDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { config, logger } = options;
  const id = options.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const idlePollMs = options.idlePollMs ?? IDLE_POLL_MS;
  const { signer } = options;
  const outbox = new OutboxRepository(options.db, options.dialect, options.cipher);
  const attempts = new AttemptRepository(options.db, options.dialect, options.cipher, options.audit, options.hooks);
  const recorder = new AttemptRecorder(attempts);
  const sender = new HttpSender(AddressPolicy.from(config.allowPrivateDestinations), config.allowHttpDestinations, options.extraCa, options.ownListeners, options.lookup);
  const log = logger.child({ worker: id });
  const tracing = options.tracing ?? NO_TRACING;
  const refillAt = Math.max(1, Math.ceil(config.workerConcurrency / REFILL_FRACTION));

  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  // Set by the idle timer: claim even if only one slot is free. A poke (new work) only wakes the
  // loop: with nothing in flight or a batch of free slots it claims at once; otherwise the sends
  // in flight refill the slots as they finish. Claiming on every poke cost a claim query per
  // ingest commit under load (a quarter of the CPU in the end-to-end benchmark).
  let claimAny = true;
  let woken = false;
  let wake: (() => void) | undefined;

  const wakeUp = (): void => {
    woken = true;
    wake?.();
  };
  const poke = (): void => wakeUp();

  /** Waits until woken or `ms` pass; a timeout counts as a reason to claim. */
  const pause = (ms: number): Promise<void> => {
    if (woken || stopping) {
      woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (timedOut: boolean): void => {
        clearTimeout(timer);
        wake = undefined;
        woken = false;
        if (timedOut) claimAny = true;
        resolve();
      };
      const timer = setTimeout(() => done(true), ms);
      wake = () => done(false);
    });
  };

  async function send(
    claimed: ClaimedDelivery,
    material: SendMaterial | Error | undefined,
    startedAt: number,
    traceparent: string | undefined,
  ): Promise<{ outcome: SendOutcome; bodySha256: string }> {
    const internal = (detail: string): { outcome: SendOutcome; bodySha256: string } => ({
      outcome: { statusCode: null, errorClass: 'internal', errorDetail: detail, responseHead: null, durationMs: 0 },
      bodySha256: '',
    });
    if (material === undefined || material instanceof Error) {
      log.error({ err: material, delivery: claimed.id }, 'stored payload or destination could not be read');
      return internal('stored payload or destination could not be read');
    }
    const bodySha256 = createHash('sha256').update(material.body).digest('hex');
    const timestamp = Math.floor(startedAt / 1000);
    let signed: Record<string, string>;
    try {
      signed = await signer.sign({ tenantId: claimed.tenantId, webhookId: claimed.payloadId, timestamp, body: material.body });
    } catch (err) {
      log.error({ err, delivery: claimed.id }, 'signing the request failed');
      return internal('signing failed');
    }
    const headers = forwardHeaders({ webhookId: claimed.payloadId, timestamp, custom: material.headers, signed });
    // W3C Trace Context: the receiver's spans join this attempt's trace. Not signed; it names a trace, nothing more.
    if (traceparent !== undefined) headers.traceparent = traceparent;
    const outcome = await sender.send({ url: material.url, headers, body: material.body, timeoutMs: claimed.timeoutMs });
    return { outcome, bodySha256 };
  }

  async function attempt(claimed: ClaimedDelivery, material: SendMaterial | Error | undefined): Promise<void> {
    if (claimed.lostLeaseOwner !== null) {
      await attempts.recordLostAttempt(claimed, now()).catch((err: unknown) => log.error({ err, delivery: claimed.id }, 'recording a lost attempt failed'));
    }
    const startedAt = now();
    const span = tracing.clientSpan('delivery.attempt', {
      'sealpost.delivery_id': claimed.id,
      'sealpost.message_id': claimed.payloadId,
      'sealpost.destination_id': claimed.destinationId,
      'sealpost.tenant_id': claimed.tenantId,
      'sealpost.attempt': claimed.attempt,
    });
    const { outcome, bodySha256 } = await send(claimed, material, startedAt, span.traceparent);
    span.setAttributes({ 'http.response.status_code': outcome.statusCode ?? 0, 'sealpost.outcome': outcome.errorClass ?? 'succeeded' });
    span.end(outcome.errorClass ?? undefined);
    options.onAttempt?.(outcome.errorClass ?? 'succeeded', outcome.statusCode, outcome.durationMs / 1000);
    const attemptLog = span.logFields.trace_id === undefined ? log : log.child(span.logFields);
    const result: AttemptResult =
      outcome.errorClass === null
        ? { kind: 'succeeded' }
        : outcome.statusCode === 410
          ? { kind: 'gone' }
          : { kind: 'failed', ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }) };
    const finishedAt = now();
    const step = nextStep(result, claimed.attempt, config.retrySchedule, finishedAt, random);
    const days = config.destinationDisableAfterDays;
    const input: AttemptResultInput = {
      claimed,
      workerId: id,
      startedAt,
      durationMs: outcome.durationMs,
      statusCode: outcome.statusCode,
      errorClass: outcome.errorClass,
      errorDetail: outcome.errorDetail,
      responseHead: outcome.responseHead,
      bodySha256,
      step,
      now: finishedAt,
      disableFailingSince: finishedAt - days * DAY_MS,
      disableReason: `failing continuously for ${days} days`,
    };
    let done: CompletionResult;
    try {
      done = await recorder.record(input);
    } catch (err) {
      attemptLog.error({ err, delivery: claimed.id }, 'recording the attempt failed; the lease will expire and the delivery be retried');
      return;
    }
    if (done.leaseLost) attemptLog.warn({ delivery: claimed.id, attempt: claimed.attempt }, 'lease expired during the attempt; another worker took the delivery over');
    if (done.destinationDisabled) {
      const why = step.status === 'stopped' ? 'its receiver answered 410 Gone' : 'failing continuously';
      attemptLog.warn({ destination: claimed.destinationId, tenant: claimed.tenantId }, `destination disabled: ${why}`);
    }
    if (!done.leaseLost && (step.status === 'dead' || step.status === 'stopped')) {
      // The final failure of a delivery, for operators: where and why, never what was sent or answered.
      const where = { delivery: claimed.id, destination: claimed.destinationId, tenant: claimed.tenantId, attempts: claimed.attempt, status: outcome.statusCode, errorClass: outcome.errorClass, reason: outcome.errorDetail };
      if (step.status === 'dead') attemptLog.warn(where, 'delivery dead-lettered: retry schedule used up');
      else attemptLog.info(where, 'delivery stopped: the destination answered 410 Gone');
    }
    attemptLog.debug({ delivery: claimed.id, attempt: claimed.attempt, status: outcome.statusCode, errorClass: outcome.errorClass, next: step.status }, 'delivery attempt');
  }

  /**
   * What was claimed may have been committed by an ingest still waiting for the disk: nothing is
   * sent that a power failure could take back (src/db/wal-flusher.ts). Each delivery waits for
   * its own payload's commit only, never for a later batch's.
   */
  async function attemptWhenDurable(claimed: ClaimedDelivery, material: SendMaterial | Error | undefined): Promise<void> {
    try {
      await options.durable?.([claimed.payloadId]);
    } catch (err) {
      log.error({ err, delivery: claimed.id }, 'the ingest of a claimed delivery is not known to be on disk; its lease will expire and it will be retried');
      return;
    }
    await attempt(claimed, material);
  }

  async function dispatch(claimed: ClaimedDelivery[]): Promise<void> {
    let material: Map<string, SendMaterial | Error>;
    try {
      material = await outbox.loadMaterial(claimed);
    } catch (err) {
      log.error({ err, count: claimed.length }, 'loading claimed deliveries failed; their leases will expire');
      return;
    }
    for (const c of claimed) {
      const task: Promise<void> = attemptWhenDurable(c, material.get(c.id))
        .catch((err: unknown) => log.error({ err, delivery: c.id }, 'delivery attempt failed unexpectedly'))
        .finally(() => {
          inFlight.delete(task);
          wakeUp();
        });
      inFlight.add(task);
    }
  }

  let lastLoopAt = Date.now();
  let lastClaimError: string | null = null;

  async function loop(): Promise<void> {
    while (!stopping) {
      lastLoopAt = Date.now();
      const free = config.workerConcurrency - inFlight.size;
      let backoff = idlePollMs;
      // A finished send frees one slot; claiming for every single one would cost a claim query
      // per delivery, so slots are refilled in batches unless the idle timer fired or nothing is in flight.
      if (free > 0 && (claimAny || free >= refillAt || inFlight.size === 0)) {
        claimAny = false;
        try {
          const claimed = await outbox.claim(id, now(), free, options.leaseMarginMs);
          lastClaimError = null;
          if (claimed.length > 0) await dispatch(claimed);
          if (inFlight.size > 0 && !stopping) await new Promise((resolve) => setTimeout(resolve, CLAIM_GATHER_MS));
        } catch (err) {
          log.error({ err }, 'claiming deliveries failed');
          lastClaimError = err instanceof Error ? err.message : String(err);
          backoff = CLAIM_ERROR_BACKOFF_MS;
        }
      }
      await pause(backoff);
    }
  }

  const heartbeat = options.heartbeat;
  const heartbeatJob = heartbeat
    ? startPeriodicJob({
        name: 'worker-heartbeat',
        intervalMs: heartbeat.intervalMs,
        runAtStart: true,
        run: async () => {
          const at = now();
          await heartbeat.store.beat(id, at);
          const dead = await heartbeat.store.releaseDead(at, at - DEAD_AFTER_HEARTBEATS * heartbeat.intervalMs);
          if (dead.workers.length > 0) {
            log.warn({ deadWorkers: dead.workers, deliveries: dead.deliveries }, 'released the delivery leases of workers whose heartbeat stopped');
            if (dead.deliveries > 0) wakeUp();
          }
        },
        onError: (err) => log.warn({ err }, 'worker heartbeat failed'),
      })
    : undefined;

  const running = loop();
  let stopped: Promise<void> | undefined;
  log.info({ concurrency: config.workerConcurrency, heartbeatMs: heartbeat?.intervalMs }, 'delivery worker started');

  return {
    id,
    poke,
    stop() {
      // Once: SIGTERM's shutdown and a test's cleanup may both ask.
      stopped ??= (async () => {
        stopping = true;
        wakeUp();
        await running;
        await Promise.all([...inFlight]);
        await heartbeatJob?.stop();
        // Every lease is settled: nothing of this worker's is left for others to release.
        await heartbeat?.store.remove(id).catch((err: unknown) => log.warn({ err }, 'removing the worker heartbeat failed'));
        await sender.close();
        log.info('delivery worker stopped');
      })();
      return stopped;
    },
    health() {
      const beat = heartbeatJob?.health();
      const ok = !stopping && lastClaimError === null && Date.now() - lastLoopAt < LOOP_STALL_MS && beat?.ok !== false;
      return { ok, detail: { lastLoopAt: new Date(lastLoopAt).toISOString(), lastClaimError, inFlight: inFlight.size, lastHeartbeatAt: beat?.lastSucceededAt ?? null } };
    },
  };
}
