import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SealpostError } from '../errors/sealpost-error.js';
import { keyAgeWarning, type ApiKeyService } from '../identity/api-key.service.js';
import { ruleFor, type RouteRule } from '../identity/permissions.js';
import type { Principal, SessionPrincipal } from '../identity/principal.js';
import { CSRF_HEADER, sessionTokenFrom } from '../identity/sessions/session-cookie.js';
import type { SessionService } from '../identity/sessions/session.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authorizeHook` on every non-public /v1 route: the API key or operator session calling. */
    auth?: Principal;
  }
}

export const KEY_AGE_WARNING_HEADER = 'sealpost-key-age-warning';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

function forbidden(code: 'SP_ERR_AUTH_SCOPE_MISSING' | 'SP_ERR_AUTH_API_KEY_REQUIRED' | 'SP_ERR_AUTH_SESSION_REQUIRED' | 'SP_ERR_AUTH_SECOND_FACTOR_REQUIRED' | 'SP_ERR_AUTH_CSRF', message: string, reason?: string): SealpostError {
  return new SealpostError(code, message, reason ? { logDetail: { reason } } : {});
}

/**
 * True when the request's Origin header, if any, is `origin`. Browsers send Origin on every
 * cross-origin and every non-GET request, so a cross-site form post always carries a foreign one.
 */
export function originAllowed(request: FastifyRequest, origin: string): boolean {
  const sent = request.headers.origin;
  return sent === undefined || sent === origin;
}

/**
 * CSRF defence for cookie-authenticated state changes (docs/identity.md): the Origin, when the
 * browser sends one, must be Sealpost's own, and the `x-sealpost-csrf` header must carry the
 * session's token. A cross-site page can make the browser send the cookie, but cannot read the
 * token nor set a custom header without a CORS preflight, which Sealpost never grants.
 */
function checkCsrf(request: FastifyRequest, principal: SessionPrincipal, origin: string): void {
  if (SAFE_METHODS.has(request.method)) return;
  if (!originAllowed(request, origin)) throw forbidden('SP_ERR_AUTH_CSRF', 'Cross-site request refused', `origin ${String(request.headers.origin)}`);
  const sent = request.headers[CSRF_HEADER];
  const expected = Buffer.from(principal.csrfToken);
  const given = Buffer.from(typeof sent === 'string' ? sent : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw forbidden('SP_ERR_AUTH_CSRF', `Missing or wrong ${CSRF_HEADER} header`, 'csrf token mismatch');
  }
}

export interface AuthorizeDeps {
  readonly keys: ApiKeyService;
  /** Absent: only API keys are accepted (route tests that build a partial API). */
  readonly sessions?: SessionService;
  /** Sealpost's own origin (SEALPOST_PUBLIC_URL), the only one allowed to make cookie-authenticated changes. */
  readonly origin: string;
  readonly now: () => number;
  /** The permission table; ROUTE_RULES except in tests of the hook itself. */
  readonly rules?: Readonly<Record<string, RouteRule>>;
}

/**
 * The one authorization hook of the `/v1` scope: finds the route's rule in the permission table
 * (src/identity/permissions.ts), authenticates the caller (API key by bearer token, or operator
 * session by cookie), and checks the rule. A route without a rule is refused: fail closed.
 */
export function authorizeHook(deps: AuthorizeDeps) {
  const authenticate = async (request: FastifyRequest): Promise<Principal> => {
    const token = bearer(request);
    if (token !== undefined || request.headers.authorization) return deps.keys.authenticate(token);
    const sessionToken = sessionTokenFrom(request.headers.cookie);
    if (sessionToken && deps.sessions) return deps.sessions.authenticate(sessionToken);
    return deps.keys.authenticate(undefined);
  };

  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const url = request.routeOptions.url;
    // No route matched: the caller still needs credentials before learning what does not exist.
    const rule: RouteRule | undefined = url === undefined ? { access: 'any', permission: 'signing_keys:read' } : ruleFor(request.method, url, deps.rules);
    if (!rule) {
      request.log.error({ route: url, method: request.method }, 'route has no rule in the permission table; refused');
      throw forbidden('SP_ERR_AUTH_SCOPE_MISSING', 'This route is not open to any credential', 'no permission rule');
    }
    if (rule.access === 'public') return;

    const principal = await authenticate(request);
    request.auth = principal;
    if (principal.kind === 'api_key' && keyAgeWarning({ createdAt: principal.keyCreatedAt }, deps.now())) {
      reply.header(KEY_AGE_WARNING_HEADER, 'API key is older than 365 days; rotate it (POST /v1/api-keys/:id/rotate)');
    }
    if (url === undefined) return;
    if (rule.access === 'api_key' && principal.kind !== 'api_key') throw forbidden('SP_ERR_AUTH_API_KEY_REQUIRED', 'This route takes an API key, not a session');
    if (rule.access === 'session' && principal.kind !== 'session') throw forbidden('SP_ERR_AUTH_SESSION_REQUIRED', 'This route is for operator sessions, not API keys');
    if (principal.kind === 'session') {
      const beforeSecondFactor = rule.access === 'session' && rule.beforeSecondFactor === true;
      if (!principal.secondFactorSatisfied && !beforeSecondFactor) {
        throw forbidden('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED', 'Complete the second factor (or enrol one) first');
      }
      checkCsrf(request, principal, deps.origin);
    }
    if ('permission' in rule && rule.permission !== undefined && !principal.permissions.has(rule.permission)) {
      throw forbidden('SP_ERR_AUTH_SCOPE_MISSING', `These credentials lack the ${rule.permission} permission`);
    }
  };
}

/** The caller; routes behind authorizeHook (all but public ones) always have one. */
export function authOf(request: FastifyRequest): Principal {
  if (!request.auth) throw new SealpostError('SP_ERR_AUTH_UNAUTHENTICATED', 'Missing or invalid credentials');
  return request.auth;
}

/** The operator session calling a `session` route. */
export function sessionOf(request: FastifyRequest): SessionPrincipal {
  const auth = authOf(request);
  if (auth.kind !== 'session') throw forbidden('SP_ERR_AUTH_SESSION_REQUIRED', 'This route is for operator sessions, not API keys');
  return auth;
}
