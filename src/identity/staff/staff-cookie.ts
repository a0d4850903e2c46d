import { newSessionToken, tokenSha256 } from '../sessions/session-cookie.js';

/**
 * The staff session cookie, distinct from operators' so one browser can hold both and neither is
 * taken for the other. `__Host-`: Secure, Path=/, no Domain (RFC 6265bis §4.1.3.2).
 */
export const STAFF_COOKIE = '__Host-sealpost_staff';
/** Binds a staff OIDC login to the browser that started it (login CSRF). */
export const STAFF_BINDING_COOKIE = '__Host-sealpost_staff_sso';
/** Names the grant a staff member acts under on a tenant's `/v1` routes. */
export const STAFF_GRANT_HEADER = 'sealpost-staff-grant';

export { newSessionToken as newStaffToken, tokenSha256 };

export function staffCookie(token: string, maxAgeSeconds: number): string {
  return `${STAFF_COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Strict`;
}

export function bindingCookie(value: string, maxAgeSeconds: number): string {
  // Lax, not Strict: it must come back on the IdP's top-level redirect to the callback.
  return `${STAFF_BINDING_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Lax`;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A named cookie's value from a Cookie header; with `shaped`, only a well-formed token. */
export function cookieValue(header: string | undefined, name: string, shaped = true): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return !shaped || TOKEN_SHAPE.test(value) ? value : undefined;
  }
  return undefined;
}
