import type { SealpostConfig } from '../config/config.schema.js';
import { DeliveryRepository } from '../delivery/delivery.repository.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { DestinationRepository } from '../delivery/destination.repository.js';
import { DestinationService } from '../delivery/destination.service.js';
import { DestinationTestService, TESTS_PER_DESTINATION_PER_MINUTE } from '../delivery/destination-test.service.js';
import { HttpSender } from '../delivery/http-sender.js';
import { cappedEnqueue } from '../delivery/outbox.repository.js';
import { OwnListeners } from '../delivery/own-listeners.js';
import { AddressPolicy, type DnsLookupAll, type HostResolver } from '../delivery/ssrf-guard.js';
import { RateLimitRepository } from '../http/rate-limit.repository.js';
import { MemoryCounterStore, WindowRateLimiter } from '../util/rate-limiter.js';
import { ApiKeyRepository } from '../identity/api-key.repository.js';
import { ApiKeyService } from '../identity/api-key.service.js';
import { TenantService } from '../identity/tenant.service.js';
import { KeyAgeNoticeRepository } from '../identity/key-age-notice.repository.js';
import { KeyAgeNoticeService } from '../identity/key-age-notice.service.js';
import { MemberService } from '../identity/operators/member.service.js';
import { OperatorRepository } from '../identity/operators/operator.repository.js';
import { PolicyRepository } from '../identity/policies/policy.repository.js';
import { PolicyService } from '../identity/policies/policy.service.js';
import { SecondFactorRepository } from '../identity/second-factor/second-factor.repository.js';
import { SecondFactorService } from '../identity/second-factor/second-factor.service.js';
import { LoginThrottle } from '../identity/sessions/login-throttle.js';
import { LoginThrottleRepository } from '../identity/sessions/login-throttle.repository.js';
import { LoginService } from '../identity/sessions/login.service.js';
import { SessionRepository } from '../identity/sessions/session.repository.js';
import { SessionService } from '../identity/sessions/session.service.js';
import { createOutboundMailer, type OutboundMailer } from '../mail/outbound-mailer.js';
import { PayloadRepository } from '../ingest/payload.repository.js';
import { PayloadService, type IngestHooks } from '../ingest/payload.service.js';
import { InboxRepository } from '../ingest/smtp/inbox.repository.js';
import { InboxService } from '../ingest/smtp/inbox.service.js';
import type { Inbox } from '../ingest/smtp/inbox.repository.js';
import { SecurityReportRepository } from '../ops/security-reports/security-report.repository.js';
import { SecurityReportService } from '../ops/security-reports/security-report.service.js';
import { createSsoServices, type SsoServices } from './sso-services.js';
import { createStaffServices, type StaffServices } from './staff-services.js';
import { createTrustServices, type TrustServices } from './trust-services.js';
import { createStatusServices, type StatusServices } from './status-services.js';
import { IncidentRepository } from '../status/incidents/incident.repository.js';
import type { ProbeTargets } from '../status/component-status.service.js';
import type { SsoSignIn } from '../identity/sso/sso-sign-in.port.js';
import { ssoSignInThroughSessions } from '../identity/sessions/sso-sign-in.js';
import type { TxtResolver } from '../identity/sso/sso-domain.js';
import { DeploymentTenantRepository } from '../ops/deployment-tenant/deployment-tenant.repository.js';
import { ensureDeploymentTenant, type DeploymentTenant } from '../ops/deployment-tenant/deployment-tenant.js';
import { SecurityContactRepository } from '../ops/security-contacts/security-contact.repository.js';
import { SecurityContactService } from '../ops/security-contacts/security-contact.service.js';
import { BreachRepository } from '../ops/breach/breach.repository.js';
import { BreachService } from '../ops/breach/breach.service.js';
import { withDatabaseLock } from '../db/database-lock.js';
import { hostname } from 'node:os';
import { LegacyResealer } from '../ops/lifecycle/legacy-reseal.js';
import { LegacyResealRepository } from '../ops/lifecycle/legacy-reseal.repository.js';
import { PayloadRetention } from '../ops/lifecycle/payload-retention.js';
import { PayloadRetentionRepository } from '../ops/lifecycle/payload-retention.repository.js';
import { TenantErasureRepository } from '../ops/lifecycle/tenant-erasure.repository.js';
import { TenantExportRepository } from '../ops/lifecycle/tenant-export.repository.js';
import { TenantExportService } from '../ops/lifecycle/tenant-export.service.js';
import { TenantSettingsRepository } from '../ops/lifecycle/tenant-settings.repository.js';
import { TenantSettingsService } from '../ops/lifecycle/tenant-settings.service.js';
import { TenantErasureService } from '../ops/lifecycle/tenant-erasure.service.js';
import { openAppContext, type AppContext } from './app-context.js';
import { declareEffects, type Effects } from './effects.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createMetrics, type Metrics } from '../ops/metrics.js';
import { MetricsRepository } from '../ops/metrics.repository.js';
import { createTracing, type Tracing } from '../ops/tracing.js';
import { withTimeout } from '../util/timeout.js';

/** A collector that does not answer must not hold up a shutdown (SIGTERM has its own deadline). */
const TRACE_FLUSH_TIMEOUT_MS = 5_000;
/** One process sends breach notices and alerts at a time, so none goes out twice. */
const BREACH_LOCK = 'breach-notices';
/** Longer than one run's mail; a holder that died frees it after this. */
const BREACH_LOCK_TTL_MS = 10 * 60_000;
/** The local part of the deployment's security address (RFC 2142 §4: security@ for security reports). */
const SECURITY_ALIAS = 'security';
const SECURITY_INTAKE_ACTOR = { type: 'system', id: 'security-intake' } as const;
/** Acknowledgements of security reports: per sender address and per sender domain, each a minute's window. */
const SECURITY_ACKS_PER_ADDRESS_PER_MINUTE = 2;
const SECURITY_ACKS_PER_DOMAIN_PER_MINUTE = 10;

/** What tests, benchmarks and the CLI may replace; everything else is built from the configuration. */
export interface SealpostOverrides {
  readonly logger?: Logger;
  /** Base URL of the API as customers reach it (attachment links); `publicUrl` or https://localhost:<port> by default. */
  readonly publicUrl?: string;
  /** DNS used to check a destination's host when it is saved; the system resolver by default. */
  readonly destinationResolver?: HostResolver;
  /** DNS of the API's own sends (test events), still under the SSRF guard; the system's by default. */
  readonly destinationLookup?: DnsLookupAll;
  /** Writes the outbox rows of an ingest (benchmarks and failure injection); the capped outbox by default. */
  readonly enqueue?: IngestHooks['enqueue'];
  /** This deployment's own listeners (no self-loops); built from the configuration by default. */
  readonly ownListeners?: OwnListeners;
  /** Tracing (tests give one with an in-memory exporter); from SEALPOST_OTEL_EXPORTER_OTLP_ENDPOINT by default. */
  readonly tracing?: Tracing;
  /** Clock of sessions, sign-in throttling, one-time links and TOTP (tests move it). */
  readonly identityClock?: () => number;
  /** TLS options of the outbound mail relay (tests trust their loopback server's certificate). */
  readonly outboundMailTls?: { ca?: string | Buffer; servername?: string };
  /** What a verified SSO login leads to; an operator session by default (identity/sessions/sso-sign-in.ts). */
  readonly ssoSignIn?: SsoSignIn;
  /** DNS TXT lookups of SSO domain verification; the system resolver by default. */
  readonly ssoTxtResolver?: TxtResolver;
  /**
   * Tests only: lets OIDC issuers be plain http:// (openid-client's allowInsecureRequests), so a
   * test IdP can run on loopback without TLS. No setting reaches it.
   */
  readonly ssoAllowHttpIdp?: boolean;
  /** Clock of the breach workflow: its 72-hour clocks and the 48 h / 66 h alerts (tests move it). */
  readonly breachClock?: () => number;
  /** Clock of the trust center: security.txt's Expires and re-signing, key dates (tests move it). */
  readonly trustClock?: () => number;
  /** Where the status probes find this deployment's listeners (read at each run); from the configuration by default. */
  readonly statusProbeTargets?: () => ProbeTargets;
}

/** Operators, sessions, second factors, members and policies (issue 11). */
export interface IdentityServices {
  readonly sessions: SessionService;
  readonly login: LoginService;
  readonly secondFactors: SecondFactorService;
  readonly members: MemberService;
  readonly policies: PolicyService;
  readonly mailer: OutboundMailer;
  /** The scheduler's monthly mail to owners listing API keys older than a year. */
  readonly keyAgeNotices: KeyAgeNoticeService;
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
  /** A destination's "send test event" (`POST /v1/destinations/:id/test`). */
  readonly destinationTests: DestinationTestService;
  /** The prepared writes and audit recorders that commit with each action (src/app/effects.ts). */
  readonly effects: Effects;
  /** Prometheus metrics of this process (served by src/app/metrics.ts when SEALPOST_METRICS_PORT is set). */
  readonly metrics: Metrics;
  /** OpenTelemetry spans of API requests and delivery attempts; a no-op unless configured. */
  readonly tracing: Tracing;
  readonly identity: IdentityServices;
  /** Sealpost's own origin (of `publicUrl`): WebAuthn's expected origin and the CSRF Origin check. */
  readonly origin: string;
  /** Per-tenant SSO: settings and domains (admin API), OIDC and SAML logins. */
  readonly sso: SsoServices;
  /** Erasure by crypto-shredding (src/ops/lifecycle/). */
  readonly erasure: TenantErasureService;
  /** The tenant's retention setting (API and CLI). */
  readonly tenantSettings: TenantSettingsService;
  /** The scheduler's payload retention sweep. */
  readonly payloadRetention: PayloadRetention;
  /** The tenant's data export (`POST /v1/exports`). */
  readonly exports: TenantExportService;
  /** `sealpost keys reseal-legacy`: records from before per-tenant keys moved under their tenant's keys. */
  readonly legacyReseal: LegacyResealer;
  /** Staff of the deployment: sign-in (OIDC + WebAuthn) and just-in-time, two-person grants. */
  readonly staff: StaffServices;
  /** The deployment's own tenant (src/ops/deployment-tenant/): found or created at start. */
  readonly deploymentTenant: DeploymentTenant;
  /** Tenants' security contacts (`/v1/security-contacts`), where breach notices go. */
  readonly securityContacts: SecurityContactService;
  /** The 72-hour breach workflow (src/ops/breach/): staff API, CLI, and the scheduler's `breach-notices` job. */
  readonly breaches: BreachService;
  /** Bug-bounty reports to security@<inbound domain>: recorded and acknowledged (the SMTP role calls it). */
  readonly securityReports: SecurityReportService;
  /** The trust center: the security key, security.txt, /security facts, the compliance evidence bundle. */
  readonly trust: TrustServices;
  /** The status page (src/status/): probes, maintenance windows, incidents and their signed updates. */
  readonly status: StatusServices;
}

/** Destinations of the deployment tenant kept for its own team (bug-bounty reports), out of reach of status subscribers. */
const TEAM_DESTINATIONS = 10;

/** Confirmed status webhooks at most: under the destination and fan-out caps, leaving the team's room. */
function statusWebhookLimit(config: SealpostConfig): number {
  const cap = Math.min(config.maxDestinationsPerTenant, config.maxFanoutPerPayload ?? config.maxDestinationsPerTenant);
  return Math.max(1, cap - TEAM_DESTINATIONS);
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
  const tracing = overrides.tracing ?? (await createTracing(config.otelExporterOtlpEndpoint));

  const apiKeys = new ApiKeyService(new ApiKeyRepository(db), Date.now, { db, audit: effects.audit.apiKeys });
  const tenants = new TenantService(db, context.tenantRepository, apiKeys, effects.audit.tenants);
  const deploymentTenant = await ensureDeploymentTenant({ db, repository: new DeploymentTenantRepository(db), audit: effects.audit.tenants });
  const payloadRepository = new PayloadRepository(db, context.cipher);
  const base = publicUrl.replace(/\/$/, '');
  const payloads = new PayloadService(
    context.committer,
    payloadRepository,
    { ...effects.ingest, afterCommit: worker.poke, observe: (channel, outcome, seconds) => metrics.ingested(channel, outcome, seconds) },
    (id) => `${base}/v1/attachments/${id}`,
  );
  const inboxRepository = new InboxRepository(db, context.cipher);
  // security@<inbound domain> reaches the deployment tenant's oldest inbox, made at its first use.
  const securityInbox = async (): Promise<Inbox> =>
    (await inboxRepository.listActive(deploymentTenant.id))[0] ?? inboxes.create(deploymentTenant.id, {}, SECURITY_INTAKE_ACTOR);
  const inboxes = new InboxService(inboxRepository, config.inboundDomain, effects.audit.inboxes, Date.now, new Map([[SECURITY_ALIAS, securityInbox]]));
  // Inbox tokens from before migration 0010 are plain until sealed: seal them now, not at first use.
  const sealedTokens = await inboxes.sealLegacyTokens();
  if (sealedTokens > 0) logger.info({ inboxes: sealedTokens }, 'sealed inbox tokens stored in plain text before migration 0010');
  const deliveryRepository = new DeliveryRepository(db, context.cipher);
  const destinationRepository = new DestinationRepository(db, context.cipher);
  const destinations = new DestinationService(destinationRepository, deliveryRepository, {
    config,
    audit: effects.audit.destinations,
    ownListeners,
    poke: worker.poke,
    ...(overrides.destinationResolver ? { resolver: overrides.destinationResolver } : {}),
  });
  const deliveries = new DeliveryService(deliveryRepository, { poke: worker.poke, audit: effects.audit.deliveries });
  // The api role sends test events itself, through the same guarded sender as the worker. Their
  // per-destination count is shared through the database when several API processes may serve.
  const testSender = new HttpSender(AddressPolicy.from(config.allowPrivateDestinations), config.allowHttpDestinations, undefined, ownListeners, overrides.destinationLookup);
  const destinationTests = new DestinationTestService({
    find: (tenantId, id) => destinationRepository.find(tenantId, id),
    signer: context.receipts.signer,
    sender: testSender,
    limiter: new WindowRateLimiter({
      limitPerMinute: TESTS_PER_DESTINATION_PER_MINUTE,
      store: context.database.dialect === 'postgres' ? new RateLimitRepository(db) : new MemoryCounterStore(),
      onStoreError: (err) => logger.warn({ err }, 'rate-limit store unavailable; counting test events in this process only'),
    }),
    commit: (write) => context.committer.run(write),
    audit: effects.audit.destinations,
  });
  const tenantSettings = new TenantSettingsService(db, new TenantSettingsRepository(db), effects.audit.tenantSettings);
  const payloadRetention = new PayloadRetention(
    new PayloadRetentionRepository(db),
    context.blobs,
    async (tenantId, id) => (await payloadRepository.find(tenantId, id))?.canonicalEnvelope,
    effects.audit.payloadRetention,
  );
  const exports = new TenantExportService(
    db,
    new TenantExportRepository(db),
    payloadRepository,
    context.receipts.repository,
    context.blobs,
    effects.audit.tenantExport,
    logger,
  );
  const erasure = new TenantErasureService(db, new TenantErasureRepository(db), context.tenantKeys, (id) => context.cipher.forgetTenant(id), effects.audit.erasure);

  const origin = new URL(publicUrl).origin;
  const clock = overrides.identityClock ?? Date.now;
  const operators = new OperatorRepository(db);
  const policyRepository = new PolicyRepository(db);
  const sessions = new SessionService(
    new SessionRepository(db),
    operators,
    { idleMs: config.sessionIdleMinutes * 60_000, absoluteMs: config.sessionAbsoluteHours * 3_600_000 },
    clock,
    { db, audit: effects.audit.sessions },
  );
  const secondFactors = new SecondFactorService(new SecondFactorRepository(db, context.cipher), { rpID: new URL(publicUrl).hostname, origin }, clock, { db, audit: effects.audit.secondFactors });
  const mailer = createOutboundMailer({
    url: config.outboundSmtpUrl,
    from: config.outboundMailFrom ?? `sealpost@${config.inboundDomain}`,
    ...(overrides.outboundMailTls ? { tls: overrides.outboundMailTls } : {}),
  });
  const identity: IdentityServices = {
    sessions,
    secondFactors,
    mailer,
    login: new LoginService(operators, policyRepository, sessions, secondFactors, new LoginThrottle(new LoginThrottleRepository(db), clock), { db, audit: effects.audit.login }),
    members: new MemberService({
      operators,
      apiKeys: new ApiKeyRepository(db),
      sessions,
      policies: policyRepository,
      mailer,
      publicUrl,
      now: clock,
      db,
      audit: effects.audit.members,
      logger,
    }),
    policies: new PolicyService(policyRepository, context.tenantRepository, clock, { db, audit: effects.audit.policies }),
    keyAgeNotices: new KeyAgeNoticeService(
      { tenants: () => context.tenantRepository.list(), keys: (tenantId) => apiKeys.list(tenantId), members: (tenantId) => operators.members(tenantId) },
      new KeyAgeNoticeRepository(db),
      mailer,
      clock,
      logger,
    ),
  };

  const sso = createSsoServices(context, {
    publicUrl: base,
    audit: effects.audit.ssoConfig,
    loginAudit: effects.audit.ssoLogins,
    signIn: overrides.ssoSignIn ?? ssoSignInThroughSessions(identity.members, identity.login),
    ...(overrides.ssoTxtResolver ? { resolveTxt: overrides.ssoTxtResolver } : {}),
    ...(overrides.ssoAllowHttpIdp ? { allowHttpIdp: true } : {}),
  });

  const securityContacts = new SecurityContactService(
    db,
    new SecurityContactRepository(db, context.cipher),
    async (tenantId) => (await operators.members(tenantId)).filter((m) => m.role === 'owner').map((m) => m.email),
    effects.audit.securityContacts,
  );

  const staff = createStaffServices(context, {
    config,
    publicUrl: base,
    origin,
    now: clock,
    mailer,
    logger,
    signInAudit: effects.audit.staffSignIn,
    grantAudit: effects.audit.staffGrants,
  });

  const breaches = new BreachService({
    db,
    repository: new BreachRepository(db, context.cipher, deploymentTenant.id),
    recipients: (tenantId) => securityContacts.recipients(tenantId),
    tenantIsLive: async (tenantId) => {
      const lifecycle = await context.tenantRepository.lifecycle(tenantId);
      return lifecycle !== undefined && lifecycle.erasedAt === null;
    },
    incidentExists: async (incidentId) => (await new IncidentRepository(db).find(incidentId)) !== undefined,
    staffEmails: async () => (await staff.signIn.list()).filter((s) => s.disabledAt === null).map((s) => s.email),
    mailer,
    publicUrl: base,
    deploymentTenant: deploymentTenant.id,
    audit: effects.audit.breaches,
    exclusive: async (work) => (await withDatabaseLock(db, BREACH_LOCK, { holder: `${hostname()}:${process.pid}`, ttlMs: BREACH_LOCK_TTL_MS }, work)).acquired,
    logger,
    now: overrides.breachClock ?? Date.now,
  });

  // Shared by every process on PostgreSQL (several SMTP listeners), in memory on SQLite (one process).
  const ackStore = context.database.dialect === 'postgres' ? new RateLimitRepository(db) : new MemoryCounterStore();
  const securityReports = new SecurityReportService({
    repository: new SecurityReportRepository(db),
    deploymentTenant: deploymentTenant.id,
    mailer,
    perAddress: new WindowRateLimiter({ limitPerMinute: SECURITY_ACKS_PER_ADDRESS_PER_MINUTE, store: ackStore }),
    perDomain: new WindowRateLimiter({ limitPerMinute: SECURITY_ACKS_PER_DOMAIN_PER_MINUTE, store: ackStore }),
    logger,
    now: Date.now,
  });
  const trust = createTrustServices(context, { publicUrl: base, securityKeyAudit: effects.audit.securityKeys, evidenceAudit: effects.audit.complianceEvidence, ...(overrides.trustClock ? { now: overrides.trustClock } : {}) });

  const status = createStatusServices(context, {
    config,
    audit: effects.audit.status,
    publicUrl,
    logger,
    mailer,
    webhooks: { destinations, sender: testSender, ingest: (input) => payloads.ingest(input), deploymentTenant: deploymentTenant.id, maxSubscribers: statusWebhookLimit(config) },
    ...(overrides.statusProbeTargets ? { targets: overrides.statusProbeTargets } : {}),
  });

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
    destinationTests,
    effects,
    metrics,
    tracing,
    identity,
    origin,
    sso,
    staff,
    deploymentTenant,
    securityContacts,
    breaches,
    securityReports,
    trust,
    status,
    async close() {
      status.live.stop();
      mailer.close();
      // Confirmation events still on their way (each bounded by its timeout) go out on this sender.
      await status.webhooks.settled();
      await testSender.close();
      await sso.close();
      await staff.close();
      // The spans still buffered go out before the process lets go of everything else.
      await withTimeout(tracing.shutdown(), TRACE_FLUSH_TIMEOUT_MS, () => logger.warn('flushing traces timed out')).catch((err: unknown) =>
        logger.warn({ err }, 'flushing traces failed'),
      );
      await context.close();
    },
    erasure,
    tenantSettings,
    payloadRetention,
    exports,
    legacyReseal: new LegacyResealer(db, new LegacyResealRepository(db, context.cipher), effects.audit.legacyReseal),
  };
}
