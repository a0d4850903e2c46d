/** What stands in for a redacted query value. */
export const REDACTED = '[redacted]';

/** Names of parameters that carry credentials or opaque state (pagination cursors encode positions in tenant data). */
const SECRET_NAME = /token|key|secret|sig|code|state|pass|auth|session|credential|cursor|nonce/i;
/** Our API keys, and long runs of base64/base64url/hex: what a credential looks like even under a harmless name. */
const SECRET_VALUE = /sp_(live|test)_|[A-Za-z0-9+/_=-]{32,}/;
/** Our public resource ids (`msg_<ULID>`): long, but names, not secrets, and what an operator greps for. */
const RESOURCE_ID = /^[a-z]{2,5}_[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * The request target for a log line: the path as it came, and each query parameter kept
 * readable (`limit=50`, `after=msg_…`) unless its name or its value looks like a credential,
 * whose value is replaced by `[redacted]`. A target that does not parse is cut to its path.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const path = url.slice(0, q);
  const query = url.slice(q + 1);
  if (query === '') return url;
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0) return SECRET_VALUE.test(decode(rawName) ?? part) ? REDACTED : part;
    const name = decode(rawName);
    const value = decode(part.slice(eq + 1));
    if (name === undefined || value === undefined) return `${rawName.slice(0, 64)}=${REDACTED}`;
    const secret = SECRET_NAME.test(name) || (SECRET_VALUE.test(value) && !RESOURCE_ID.test(value));
    return secret ? `${rawName}=${REDACTED}` : part;
  });
  return `${path}?${parts.join('&')}`;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
