import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * The session cookie. `__Host-` makes browsers refuse it unless it is Secure, has Path=/ and no
 * Domain, so a sibling sub-domain cannot plant or read it (RFC 6265bis §4.1.3.2).
 */
export const SESSION_COOKIE = '__Host-sealpost_session';
/** Header carrying the CSRF token on state-changing cookie-authenticated requests. */
export const CSRF_HEADER = 'x-sealpost-csrf';

/** 256 random bits, base64url. */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the database stores: a copy of the table yields no usable session. */
export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The session's CSRF token: HMAC-SHA256 keyed by the session token (OWASP's "HMAC-based token"
 * pattern). Only a page that was handed it (login and GET /v1/auth/session answer it) can echo
 * it: another origin can make the browser send the cookie but cannot read it or the token.
 * It changes whenever the session token rotates.
 */
export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('sealpost-csrf-v1').digest('base64url');
}

export function sessionCookie(token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Lax`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The session token from a Cookie header, if it holds a well-formed one. */
export function sessionTokenFrom(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return TOKEN_SHAPE.test(value) ? value : undefined;
  }
  return undefined;
}
