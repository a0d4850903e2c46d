import { SealpostError } from '../errors/sealpost-error.js';

export const SEALPOST_VERSION = '0.1.0';
export const USER_AGENT = `Sealpost/${SEALPOST_VERSION}`;

/**
 * Set on every forwarded request, so a Sealpost API that receives one (a destination pointing
 * back at Sealpost, directly or through a relay that keeps headers) can refuse it instead of
 * ingesting it again. Destinations cannot set or remove it: `sealpost-` headers are reserved.
 */
export const FORWARDED_MARKER_HEADER = 'sealpost-forwarded';

/** A request that carries Sealpost's forwarding marker or its webhook signature headers. */
export function isForwardedBySealpost(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  if (headers[FORWARDED_MARKER_HEADER] !== undefined) return true;
  return headers['webhook-signature'] !== undefined && headers['sealpost-key-id'] !== undefined;
}

/** onRequest hook for ingest routes: a request Sealpost forwarded is refused before its body is read. */
export async function refuseForwardedRequests(request: { readonly headers: Readonly<Record<string, string | string[] | undefined>> }): Promise<void> {
  if (isForwardedBySealpost(request.headers)) {
    throw new SealpostError('SP_ERR_INGEST_FORWARDING_LOOP', 'This request was forwarded by Sealpost; a destination points back at a Sealpost API');
  }
}

/** A destination may add at most this many headers; more only serves to bloat every request. */
export const MAX_CUSTOM_HEADERS = 20;
const MAX_HEADER_NAME_LENGTH = 256;
/** Enough for a long bearer token or JWT; keeps request heads well under common 8-16 KB server limits. */
const MAX_HEADER_VALUE_LENGTH = 4_096;

/** RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space and tab (RFC 9110 §5.5, without obs-text); no CR/LF, so no header injection. */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

/** Headers Sealpost sets or that belong to the connection: a destination may not set them. */
const RESERVED = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'user-agent',
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);
const RESERVED_PREFIXES = ['webhook-', 'sealpost-'];

export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED.has(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p));
}

/** Validates custom headers when a destination is saved. */
export function validateCustomHeaders(headers: Readonly<Record<string, string>>): void {
  const fail = (message: string): never => {
    throw new SealpostError('SP_ERR_DESTINATION_HEADER_INVALID', message);
  };
  const names = Object.keys(headers);
  if (names.length > MAX_CUSTOM_HEADERS) fail(`At most ${MAX_CUSTOM_HEADERS} custom headers are allowed`);
  const seen = new Set<string>();
  for (const name of names) {
    if (name.length > MAX_HEADER_NAME_LENGTH || !TOKEN.test(name)) fail('A header name is not a valid HTTP token');
    if (isReservedHeader(name)) fail(`Header ${name} is set by Sealpost and cannot be overridden`);
    if (seen.has(name.toLowerCase())) fail(`Header ${name} is given twice`);
    seen.add(name.toLowerCase());
    const value = headers[name] ?? '';
    if (value.length > MAX_HEADER_VALUE_LENGTH || !FIELD_VALUE.test(value)) fail(`The value of header ${name} is too long or has invalid characters`);
  }
}

/**
 * The request head of one attempt (DESIGN §4): custom headers first, then the signer's, then
 * Sealpost's own, so neither can be overridden even by a row written before validation existed.
 */
export function forwardHeaders(input: {
  webhookId: string;
  timestamp: number;
  custom: Readonly<Record<string, string>>;
  signed: Readonly<Record<string, string>>;
}): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.custom)) {
    if (!isReservedHeader(name) && TOKEN.test(name) && FIELD_VALUE.test(value)) headers[name.toLowerCase()] = value;
  }
  for (const [name, value] of Object.entries(input.signed)) headers[name.toLowerCase()] = value;
  headers['content-type'] = 'application/json';
  headers['webhook-id'] = input.webhookId;
  headers['webhook-timestamp'] = String(input.timestamp);
  headers['user-agent'] = USER_AGENT;
  headers[FORWARDED_MARKER_HEADER] = '1';
  return headers;
}
