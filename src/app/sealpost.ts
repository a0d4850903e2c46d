import type { SealpostConfig } from '../config/config.schema.js';
import { DeliveryRepository } from '../delivery/delivery.repository.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DestinationRepository } from '../delivery/destination.repository.js';
import { DestinationService } from '../delivery/destination.service.js';
import { cappedEnqueue } from '../delivery/outbox.repository.js';
import { OwnListeners } from '../delivery/own-listeners.js';
import type { HostResolver } from '../delivery/ssrf-guard.js';
import { ApiKeyRepository } from '../identity/api-key.repository.js';
import { ApiKeyService } from '../identity/api-key.service.js';
import { TenantService } from '../identity/tenant.service.js';
import { PayloadRepository } from '../ingest/payload.repository.js';
import { PayloadService, type IngestHooks } from '../ingest/payload.service.js';
import { InboxRepository } from '../ingest/smtp/inbox.repository.js';
import { InboxService } from '../ingest/smtp/inbox.service.js';
import { openAppContext, type AppContext } from './app-context.js';
import { declareEffects, type Effects } from './effects.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createMetrics, type Metrics } from '../ops/metrics.js';
import { MetricsRepository } from '../ops/metrics.repository.js';
import { createTracing, type Tracing } from '../ops/tracing.js';
import { withTimeout } from '../util/timeout.js';

/** A collector that does not answer must not hold up a shutdown (SIGTERM has its own deadline). */
const TRACE_FLUSH_TIMEOUT_MS = 5_000;

/** What tests, benchmarks and the CLI may replace; everything else is built from the configuration. */
export interface SealpostOverrides {
  readonly logger?: Logger;
  /** Base URL of the API as customers reach it (attachment links); `publicUrl` or https://localhost:<port> by default. */
  readonly publicUrl?: string;
  /** DNS used to check a destination's host when it is saved; the system resolver by default. */
  readonly destinationResolver?: HostResolver;
  /** Writes the outbox rows of an ingest (benchmarks and failure injection); the capped outbox by default. */
  readonly enqueue?: IngestHooks['enqueue'];
  /** This deployment's own listeners (no self-loops); built from the configuration by default. */
  readonly ownListeners?: OwnListeners;
  /** Tracing (tests give one with an in-memory exporter); from SEALPOST_OTEL_EXPORTER_OTLP_ENDPOINT by default. */
  readonly tracing?: Tracing;
}

/** Lets services wake the delivery worker of this process, if it runs one. */
export interface WorkerWakeup {
  poke(): void;
  /** Registers a worker's poke; returns the function that unregisters it. */
  attach(poke: () => void): () => void;
}

/**
 * The whole service graph of one process: the infrastructure (database, cipher, blob store,
 * committer, audit, signing keys) and every repository and service, each built once. Roles
 * (src/app/api.ts, smtp.ts, worker.ts, scheduler.ts), the CLI, the benchmarks and the test app
 * take what they need from it.
 */
export interface Sealpost extends AppContext {
  readonly publicUrl: string;
  readonly ownListeners: OwnListeners;
  readonly wakeup: WorkerWakeup;
  readonly tenants: TenantService;
  readonly apiKeys: ApiKeyService;
  readonly payloadRepository: PayloadRepository;
  /** Ingest, shared by the HTTPS API and the SMTP ingress. */
  readonly payloads: PayloadService;
  readonly inboxes: InboxService;
  readonly destinations: DestinationService;
  readonly deliveries: DeliveryService;
  /** The prepared writes and audit recorders that commit with each action (src/app/effects.ts). */
  readonly effects: Effects;
  /** Prometheus metrics of this process (served by src/app/metrics.ts when SEALPOST_METRICS_PORT is set). */
  readonly metrics: Metrics;
  /** OpenTelemetry spans of API requests and delivery attempts; a no-op unless configured. */
  readonly tracing: Tracing;
}

function wakeup(): WorkerWakeup {
  const pokes = new Set<() => void>();
  return {
    poke: () => {
      for (const poke of pokes) poke();
    },
    attach(poke) {
      pokes.add(poke);
      return () => pokes.delete(poke);
    },
  };
}

/** The composition root: opens the database (migrated), keyring, cipher and blob store once and builds every service over them. */
export async function createSealpost(config: SealpostConfig, overrides: SealpostOverrides = {}): Promise<Sealpost> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const context = await openAppContext(config, logger);
  const { db } = context.database;
  const publicUrl = overrides.publicUrl ?? config.publicUrl ?? `https://localhost:${config.httpPort}`;
  const ownListeners = overrides.ownListeners ?? OwnListeners.fromConfig({ ...config, publicUrl });
  const worker = wakeup();
  const effects = declareEffects(context, overrides.enqueue ?? cappedEnqueue(config));
  const metrics = createMetrics(new MetricsRepository(db));
  const tracing = overrides.tracing ?? createTracing(config.otelExporterOtlpEndpoint);

  const apiKeys = new ApiKeyService(new ApiKeyRepository(db), Date.now, { db, audit: effects.audit.apiKeys });
  const tenants = new TenantService(db, context.tenantRepository, apiKeys, effects.audit.tenants);
  const payloadRepository = new PayloadRepository(db, context.cipher);
  const base = publicUrl.replace(/\/$/, '');
  const payloads = new PayloadService(
    context.committer,
    payloadRepository,
    { ...effects.ingest, afterCommit: worker.poke, observe: (channel, outcome, seconds) => metrics.ingested(channel, outcome, seconds) },
    (id) => `${base}/v1/attachments/${id}`,
  );
  const inboxes = new InboxService(new InboxRepository(db, context.cipher), config.inboundDomain, effects.audit.inboxes);
  // Inbox tokens from before migration 0010 are plain until sealed: seal them now, not at first use.
  const sealedTokens = await inboxes.sealLegacyTokens();
  if (sealedTokens > 0) logger.info({ inboxes: sealedTokens }, 'sealed inbox tokens stored in plain text before migration 0010');
  const deliveryRepository = new DeliveryRepository(db, context.cipher);
  const destinations = new DestinationService(new DestinationRepository(db, context.cipher), deliveryRepository, {
    config,
    audit: effects.audit.destinations,
    ownListeners,
    poke: worker.poke,
    ...(overrides.destinationResolver ? { resolver: overrides.destinationResolver } : {}),
  });
  const deliveries = new DeliveryService(deliveryRepository, { poke: worker.poke });

  return {
    ...context,
    publicUrl,
    ownListeners,
    wakeup: worker,
    tenants,
    apiKeys,
    payloadRepository,
    payloads,
    inboxes,
    destinations,
    deliveries,
    effects,
    metrics,
    tracing,
    async close() {
      // The spans still buffered go out before the process lets go of everything else.
      await withTimeout(tracing.shutdown(), TRACE_FLUSH_TIMEOUT_MS, () => logger.warn('flushing traces timed out')).catch((err: unknown) =>
        logger.warn({ err }, 'flushing traces failed'),
      );
      await context.close();
    },
  };
}
