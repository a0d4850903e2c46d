/**
 * RFC 9110 §8.3.1 media type: `type/subtype` tokens with optional `; name=value` parameters,
 * visible ASCII only. Anything else (non-Latin-1 characters, control characters) cannot be sent
 * back as a Content-Type header, so it would make the attachment impossible to download.
 */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\x20-\\x7e])*"))*$`);
/** Far beyond any real media type; a longer one only bloats every record and header. */
const MAX_CONTENT_TYPE_CHARS = 255;

export const FALLBACK_CONTENT_TYPE = 'application/octet-stream';

/**
 * The sender's content type when it is a valid media type, else `application/octet-stream`.
 * Takes `unknown`: parsers hand over what they found, and mailparser gives `false` for none.
 */
export function safeContentType(value: unknown): string {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  if (!trimmed || trimmed.length > MAX_CONTENT_TYPE_CHARS || !MEDIA_TYPE.test(trimmed)) return FALLBACK_CONTENT_TYPE;
  return trimmed;
}
