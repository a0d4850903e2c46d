import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** One year, the minimum HSTS preload lists accept (hstspreload.org). */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

/**
 * Helmet's headers on every response. The API serves JSON only, so the CSP allows nothing at
 * all: a response rendered in a browser by mistake can load no script, style or frame. A route
 * that serves HTML (the operator console) overrides it with its own `helmet` route option.
 */
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
