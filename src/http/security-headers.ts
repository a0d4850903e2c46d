import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** One year, the minimum HSTS preload lists accept (hstspreload.org). */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

/**
 * Helmet's headers on every response. The API serves JSON only, so the CSP allows nothing at
 * all: a response rendered in a browser by mistake can load no script, style or frame. A route
 * that serves HTML (the operator console) overrides it with its own `helmet` route option.
 */
/**
 * The headers helmet sets above, as a fixed list for the answers that never pass through
 * Fastify's hooks: framework errors (a malformed URL) and the raw-socket answer to a client
 * error (oversized headers). A test checks that it matches what helmet sends.
 */
export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`,
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
      },
    },
    // RFC 6797: browsers must use HTTPS for this host and its subdomains for a year.
    strictTransportSecurity: { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true, preload: false },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
  });
}
