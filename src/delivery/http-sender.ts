import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { Agent, buildConnector } from 'undici';
import { isOwnListenerRefused, ownListenerRefused, type OwnListeners } from './own-listeners.js';
import { AddressPolicy, addressRefused, guardedLookup, isAddressRefused } from './ssrf-guard.js';

/** Bytes of the receiver's answer that are kept (sealed) in the attempt record. */
export const RESPONSE_CAPTURE_BYTES = 4_096;
/** A TCP+TLS handshake that takes longer than this is a dead or overloaded host. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Idle keep-alive sockets are kept this long (unless the server says less), per origin. */
const KEEP_ALIVE_MS = 30_000;

export type ErrorClass =
  | 'timeout'
  | 'connect'
  | 'dns'
  | 'tls'
  | 'ssrf_refused'
  | 'loop_refused'
  | 'scheme_refused'
  | 'http_status'
  | 'protocol'
  | 'internal'
  | 'lease_expired';

export interface SendRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly timeoutMs: number;
}

export interface SendOutcome {
  /** Set whenever the receiver answered. */
  readonly statusCode: number | null;
  /** Null on a 2xx. */
  readonly errorClass: ErrorClass | null;
  /** A short, URL-free description for `deliveries.last_error` and the log. */
  readonly errorDetail: string | null;
  /** The first RESPONSE_CAPTURE_BYTES of the answer's body, when there was an answer. */
  readonly responseHead: Buffer | null;
  readonly durationMs: number;
  /** A 429 or 503 answer's `Retry-After`, in ms from now; absent otherwise or when unreadable. */
  readonly retryAfterMs?: number;
}

/** The answers whose `Retry-After` asks for a pause (RFC 9110 §10.2.3, RFC 6585 §4). */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/**
 * RFC 9110 §10.2.3: `Retry-After` is delay-seconds or an HTTP-date. Anything else (or a date in
 * the past) is no request at all, and the schedule decides alone.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date) || date <= now) return undefined;
  return date - now;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|ERR_OSSL_)/;
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'EADDRNOTAVAIL']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ENODATA']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The most telling code in an error and its causes: undici wraps socket errors that carry the system code. */
function codeOf(error: unknown): string {
  const codes: string[] = [];
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes.find((c) => !c.startsWith('UND_ERR_')) ?? codes[0] ?? 'UNKNOWN';
}

export function classifySendError(error: unknown, deadlineHit: boolean): { errorClass: ErrorClass; detail: string } {
  if (deadlineHit) return { errorClass: 'timeout', detail: 'no complete answer within the timeout' };
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (isAddressRefused(error) || isAddressRefused(cause)) {
    return { errorClass: 'ssrf_refused', detail: 'destination address refused by the SSRF guard' };
  }
  if (isOwnListenerRefused(error) || isOwnListenerRefused(cause)) {
    return { errorClass: 'loop_refused', detail: "destination reaches this deployment's own API" };
  }
  const code = codeOf(error);
  if (TIMEOUT_CODES.has(code)) return { errorClass: 'timeout', detail: code };
  if (DNS_CODES.has(code)) return { errorClass: 'dns', detail: code };
  if (TLS_CODES.test(code)) return { errorClass: 'tls', detail: code };
  if (CONNECT_CODES.has(code)) return { errorClass: 'connect', detail: code };
  return { errorClass: 'protocol', detail: code };
}

/**
 * Outbound HTTP for deliveries. One undici Agent keeps a keep-alive pool per origin; every
 * connection goes through the SSRF guard on the address it actually connects to (literal IPs
 * checked directly, names resolved by a guarded lookup), TLS is at least 1.2, redirects are
 * never followed (a 3xx is a failed attempt), and at most RESPONSE_CAPTURE_BYTES of an answer
 * are read.
 */
export class HttpSender {
  private readonly agent: Agent;

  /**
   * `extraCa`: PEM certificates trusted besides the system's (receivers behind a private CA).
   * `own`: this deployment's listeners; a connection that reaches one is closed before any
   * request is written. `lookup`: DNS for tests.
   */
  constructor(
    policy: AddressPolicy,
    private readonly allowHttp: boolean,
    extraCa?: string,
    own?: OwnListeners,
    lookup?: Parameters<typeof guardedLookup>[1],
  ) {
    const base = buildConnector({
      timeout: CONNECT_TIMEOUT_MS,
      minVersion: 'TLSv1.2',
      lookup: guardedLookup(policy, lookup),
      ...(extraCa === undefined ? {} : { ca: [...rootCertificates, extraCa] }),
    });
    const connect: buildConnector.connector = (options, callback) => {
      const host = options.hostname.replace(/^\[|\]$/g, '');
      const literal = isIP(host) !== 0 ? policy.refusal(host) : undefined;
      if (literal !== undefined) return callback(addressRefused(host, host, literal), null);
      const port = Number(options.port) || (options.protocol === 'http:' ? 80 : 443);
      if (own?.isPublicHost(host, port)) return callback(ownListenerRefused(host), null);
      base(options, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('no socket'), null);
        // Belt and braces: whatever resolved the name, the peer we reached must be allowed.
        const peer = socket.remoteAddress;
        const reason = peer === undefined ? 'unknown peer address' : policy.refusal(peer);
        if (reason !== undefined) {
          socket.destroy();
          return callback(addressRefused(host, peer ?? '', reason), null);
        }
        // The address and port actually reached, however the name resolved: never our own listener.
        if (own !== undefined && peer !== undefined && own.isOwnAddress(peer, socket.remotePort ?? port)) {
          socket.destroy();
          return callback(ownListenerRefused(host), null);
        }
        return callback(null, socket);
      });
    };
    this.agent = new Agent({ connect, keepAliveTimeout: KEEP_ALIVE_MS, keepAliveMaxTimeout: KEEP_ALIVE_MS });
  }

  async send(request: SendRequest): Promise<SendOutcome> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.allowHttp)) {
      return { statusCode: null, errorClass: 'scheme_refused', errorDetail: `${url.protocol} destinations are not allowed`, responseHead: null, durationMs: 0 };
    }
    const controller = new AbortController();
    let deadlineHit = false;
    const timer = setTimeout(() => {
      deadlineHit = true;
      controller.abort();
    }, request.timeoutMs);
    try {
      const response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(request.body.length) },
        body: request.body,
        signal: controller.signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const head = await readCapped(response.body, RESPONSE_CAPTURE_BYTES);
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      const retryAfterMs = RETRY_AFTER_STATUSES.has(response.statusCode) ? parseRetryAfter(response.headers['retry-after'], Date.now()) : undefined;
      return {
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        statusCode: response.statusCode,
        errorClass: ok ? null : 'http_status',
        errorDetail: ok ? null : `HTTP ${response.statusCode}`,
        responseHead: head,
        durationMs: elapsed(),
      };
    } catch (error) {
      const { errorClass, detail } = classifySendError(error, deadlineHit);
      return { statusCode: null, errorClass, errorDetail: detail, responseHead: null, durationMs: elapsed() };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * Reads at most `limit` bytes, then drops the rest by destroying the stream (which closes that
 * connection; an answer read to its end leaves the connection in the pool). An answer cut off
 * by the timeout keeps what arrived: the status code already decided the outcome.
 */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown }, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } catch {
    // Cut off mid-body: keep what arrived.
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
