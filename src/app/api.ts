import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditRequestsHook, offerInTransactionAudit, RefusedRequests } from '../audit/audit-request.hook.js';
import { auditRoutes } from '../audit/audit.routes.js';
import { logKeyRoutes } from '../audit/log-key.routes.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { jwksRoutes } from '../receipts/jwks.routes.js';
import { receiptProofRoutes } from '../receipts/receipt-proof.routes.js';
import { receiptRoutes } from '../receipts/receipt.routes.js';
import { signingKeyRoutes } from '../receipts/signing-key.routes.js';
import { apiKeyRoutes } from '../identity/api-key.routes.js';
import { ssoLoginRoutes } from '../identity/sso/sso-login.routes.js';
import { ssoConfigRoutes } from '../identity/sso/sso-config.routes.js';
import type { ApiKeyService } from '../identity/api-key.service.js';
import { authorizeHook } from '../http/auth.plugin.js';
import { memberRoutes } from '../identity/operators/member.routes.js';
import { policyRoutes } from '../identity/policies/policy.routes.js';
import { staffAccessRoutes, staffRoutes } from '../identity/staff/staff.routes.js';
import { authRoutes } from '../identity/sessions/auth.routes.js';
import { payloadRoutes } from '../ingest/payload.routes.js';
import type { PayloadService } from '../ingest/payload.service.js';
import { inboxRoutes } from '../ingest/smtp/inbox.routes.js';
import { rawMessageRoutes } from '../ingest/smtp/raw-message.routes.js';
import { pingDatabase } from '../db/database.js';
import { deliveryRoutes } from '../delivery/delivery.routes.js';
import { destinationRoutes } from '../delivery/destination.routes.js';
import { securityKeyRoutes } from '../trust/security-key.routes.js';
import { securityTxtRoutes } from '../trust/security-txt.routes.js';
import { trustRoutes } from '../trust/trust.routes.js';
import { destinationTestRoutes } from '../delivery/destination-test.routes.js';
import { tenantErasureRoutes } from '../ops/lifecycle/tenant-erasure.routes.js';
import { tenantSettingsRoutes } from '../ops/lifecycle/tenant-settings.routes.js';
import { tenantExportRoutes } from '../ops/lifecycle/tenant-export.routes.js';
import { breachAckRoutes, breachStaffRoutes } from '../ops/breach/breach.routes.js';
import { securityContactRoutes } from '../ops/security-contacts/security-contact.routes.js';
import { statusStaffRoutes } from '../status/status-staff.routes.js';
import { statusRoutes } from '../status/status.routes.js';
import { buildHttpServer, type HttpServer, type ListenResult } from '../http/server.js';
import { RateLimitRepository } from '../http/rate-limit.repository.js';
import { leaseFor, MemoryCounterStore, WindowRateLimiter, type WindowCounterStore } from '../util/rate-limiter.js';
import type { Sealpost } from './sealpost.js';

/** Each subscription mails a confirmation link: more per client and minute would make Sealpost a mail cannon. */
const STATUS_SUBSCRIPTIONS_PER_IP_PER_MINUTE = 3;

export interface ApiOptions {
  /**
   * Record every API call in the audit log (default true). Only the benchmark turns it off, to
   * measure what the log costs; the server has no setting for it.
   */
  readonly auditRequests?: boolean;
  /** Clock of the rate limits and the refusal counts (tests move it). */
  readonly now?: () => number;
}

export interface ApiServices {
  /** Every route registered under /v1 and /staff/v1, as `<METHOD> <pattern>` (the permission-table test walks them). */
  readonly routes: readonly { readonly method: string; readonly url: string }[];
  readonly keys: ApiKeyService;
  readonly payloads: PayloadService;
  /** Refused requests counted but not yet written; `flush()` writes their `api.refused` events now. */
  readonly refused: RefusedRequests;
}

function rateLimited(seconds: number): SealpostError {
  return new SealpostError('SP_ERR_HTTP_RATE_LIMITED', `Rate limit exceeded; retry in ${seconds} s`, { logDetail: { retryAfter: seconds } });
}

/** onRequest hook: counts the request in `limiter` under `key` (none: not counted), or answers 429 with retry-after. */
function limitBy(limiter: WindowRateLimiter, key: (request: FastifyRequest) => string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bucket = key(request);
    if (bucket === undefined) return;
    const wait = await limiter.hit(bucket);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw rateLimited(wait);
    }
  };
}

/**
 * Where the API's rate-limit counts live: with PostgreSQL several API processes may serve the
 * same clients, so the counts are shared in the database (each process reserving a small lease,
 * see leaseFor); with SQLite there is one process and they stay in its memory.
 */
function rateLimitStore(context: Sealpost): { store: WindowCounterStore; shared: boolean } {
  if (context.database.dialect === 'postgres') return { store: new RateLimitRepository(context.database.db), shared: true };
  return { store: new MemoryCounterStore(), shared: false };
}

/** Mounts the authenticated `/v1` API (and the public well-known routes) on the HTTPS server. */
export async function registerApi(app: FastifyInstance, sealpost: Sealpost, options: ApiOptions = {}): Promise<ApiServices> {
  const context = sealpost;
  const keys = sealpost.apiKeys;
  const payloads = sealpost.payloads;
  const now = options.now ?? Date.now;
  const { store, shared } = rateLimitStore(context);
  const onStoreError = (err: unknown): void => context.logger.warn({ err }, 'rate-limit store unavailable; counting in this process only');
  const limiter = (limitPerMinute: number): WindowRateLimiter =>
    new WindowRateLimiter({ limitPerMinute, store, lease: shared ? leaseFor(limitPerMinute) : 1, now, onStoreError });
  const perIp = limiter(context.config.rateLimitPerIp);
  const perKey = limiter(context.config.rateLimitPerKey);
  const refused = new RefusedRequests(
    (event) => context.committer.run((tx) => context.audit.log.append(tx, event)),
    now,
    (err) => context.logger.error({ err }, 'api.refused audit event could not be written'),
  );

  // On every route of the server, health probes and /.well-known included, before any other
  // work (authentication above all). Public routes count in a bucket of their own, so a client's
  // API traffic cannot starve its load balancer's health probes.
  app.addHook('onRequest', limitBy(perIp, (request) => `${request.url.startsWith('/v1/') || request.url.startsWith('/staff/v1/') ? 'ip' : 'public'}:${request.ip || 'unknown'}`));
  app.addHook('onClose', async () => refused.flush());

  await app.register(logKeyRoutes, { keys: context.audit.keys });
  await app.register(jwksRoutes, { keys: context.receipts.keys });
  await app.register(securityKeyRoutes, { keys: sealpost.trust.securityKeys });
  await app.register(securityTxtRoutes, { securityTxt: sealpost.trust.securityTxt });
  await app.register(trustRoutes, { facts: sealpost.trust.facts });
  // Public and read-only: the status page, its JSON, live events, feed and postmortems (src/status/).
  // Subscribing sends a mail or a confirmation event: a few per client and minute (both kinds
  // together), far below the public bucket.
  const subscriptions = limiter(STATUS_SUBSCRIPTIONS_PER_IP_PER_MINUTE);
  await app.register(statusRoutes, {
    page: sealpost.status.page,
    live: sealpost.status.live,
    publicUrl: sealpost.publicUrl,
    subscriptions: sealpost.status.subscriptions,
    webhooks: sealpost.status.webhooks,
    admitSubscription: (ip) => subscriptions.hit(`status-subscribe:${ip}`),
  });
  const routes: { method: string; url: string }[] = [];
  // One permission check for the tenant API and the staff API alike (src/identity/permissions.ts).
  const authorize = authorizeHook({ keys, sessions: sealpost.identity.sessions, staff: sealpost.staff, origin: sealpost.origin, now });
  // Public: the browser of a person signing in calls them, with no API key. Each login writes its own
  // sso.login_succeeded / sso.login_refused event; refusals past a few per client and minute are
  // counted into api.refused like other refused requests.
  await app.register(ssoLoginRoutes, {
    oidc: sealpost.sso.oidc,
    saml: sealpost.sso.saml,
    signIn: sealpost.sso.signIn,
    audit: sealpost.sso.loginAudit,
    admitRefusal: (ip, status, tenantId) => refused.admit(ip, status, tenantId),
  });
  await app.register(async (v1) => {
    v1.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });
    // Every API call is audited, refused ones included (DESIGN §1, "every action ──► audit log").
    if (options.auditRequests !== false) {
      v1.addHook('onRequest', offerInTransactionAudit(context.audit.log));
      v1.addHook('onResponse', auditRequestsHook(context.audit.log, context.committer, () => new Date(now()), refused));
    }
    // The one permission check (src/identity/permissions.ts): API key or operator session, same table.
    v1.addHook('onRequest', authorize);
    // Per API key or per session; public routes (sign-in) have the per-IP limit and the sign-in throttle.
    v1.addHook('onRequest', limitBy(perKey, (request) => request.auth?.rateKey));
    await v1.register(apiKeyRoutes, { keys });
    await v1.register(payloadRoutes, { payloads, repository: sealpost.payloadRepository, blobs: context.blobs, limits: context.config });
    await v1.register(auditRoutes, { audit: context.audit.audit });
    await v1.register(receiptRoutes, { receipts: context.receipts.receipts });
    await v1.register(receiptProofRoutes, { repository: context.receipts.repository, audit: context.audit.audit });
    await v1.register(signingKeyRoutes, { keys: context.receipts.keys, publicUrl: sealpost.publicUrl });
    await v1.register(destinationRoutes, { destinations: sealpost.destinations });
    await v1.register(destinationTestRoutes, { tests: sealpost.destinationTests });
    await v1.register(deliveryRoutes, { deliveries: sealpost.deliveries });
    await v1.register(inboxRoutes, { inboxes: sealpost.inboxes });
    await v1.register(ssoConfigRoutes, { sso: sealpost.sso.config });
    await v1.register(rawMessageRoutes, { repository: sealpost.payloadRepository, blobs: context.blobs });
    const { identity } = sealpost;
    await v1.register(authRoutes, { login: identity.login, sessions: identity.sessions, secondFactors: identity.secondFactors, members: identity.members, policies: identity.policies, origin: sealpost.origin });
    await v1.register(memberRoutes, { members: identity.members });
    await v1.register(policyRoutes, { policies: identity.policies });
    await v1.register(tenantErasureRoutes, { erasure: sealpost.erasure });
    await v1.register(tenantSettingsRoutes, { settings: sealpost.tenantSettings });
    await v1.register(tenantExportRoutes, { exports: sealpost.exports });
    await v1.register(staffAccessRoutes, { grants: sealpost.staff.grants });
    await v1.register(securityContactRoutes, { contacts: sealpost.securityContacts });
    await v1.register(breachAckRoutes, { breaches: sealpost.breaches });
  });
  // The staff API: the same table and hook (`staff` rules), its own rate bucket per staff session.
  await app.register(async (staffApi) => {
    staffApi.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });
    if (options.auditRequests !== false) {
      staffApi.addHook('onResponse', auditRequestsHook(context.audit.log, context.committer, () => new Date(now()), refused));
    }
    staffApi.addHook('onRequest', authorize);
    staffApi.addHook('onRequest', limitBy(perKey, (request) => request.staff?.rateKey));
    await staffApi.register(staffRoutes, {
      signIn: sealpost.staff.signIn,
      grants: sealpost.staff.grants,
      tenants: sealpost.tenants,
      admitRefusal: (ip) => refused.admit(ip, 401, null),
    });
    await staffApi.register(breachStaffRoutes, { breaches: sealpost.breaches });
    await staffApi.register(statusStaffRoutes, { incidents: sealpost.status.incidents, maintenance: sealpost.status.maintenance });
  });
  return { routes, keys, payloads, refused };
}

export interface ApiRole {
  readonly server: HttpServer;
  readonly services: ApiServices;
  readonly listening: ListenResult;
  close(): Promise<void>;
}

/**
 * The `api` role: the HTTPS server with the whole API, listening. Its bound port joins the
 * deployment's own listeners, so no destination can loop back into it.
 */
export async function startApi(sealpost: Sealpost, options: ApiOptions & { readiness?: () => Promise<void> } = {}): Promise<ApiRole> {
  const { config, logger } = sealpost;
  const server = await buildHttpServer({ config, logger, tracing: sealpost.tracing, readiness: options.readiness ?? (() => pingDatabase(sealpost.database.db)) });
  try {
    const services = await registerApi(server.app, sealpost, options);
    const listening = await server.listen();
    sealpost.ownListeners.addBound(config.httpHost, listening.port);
    return { server, services, listening, close: () => server.close() };
  } catch (err) {
    await server.close();
    throw err;
  }
}
