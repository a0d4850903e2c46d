import { randomUUID } from 'node:crypto';
import { isVerifyError, verifyReceipt, type AcceptedReceipt, type JwkSet } from '@sealpost/verify';
import { SealpostClientError } from './errors.js';
import { backoffDelay, parseRetryAfter } from './retry.js';

/** Sealpost's own rule for the header (visible ASCII, 1–255 characters); checked before sending. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const USER_AGENT = 'sealpost-client/0.1.0';

/** A file sent with the payload; it arrives as an entry of the envelope's `attachments`. */
export interface Attachment {
  readonly filename: string;
  /** Defaults to `application/octet-stream`. */
  readonly contentType?: string;
  readonly data: Uint8Array | ArrayBuffer | Blob | string;
}

export interface RetryPolicy {
  /** Requests in all, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** First back-off ceiling; doubles each attempt (full jitter). Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Largest back-off. Default 30 s. */
  readonly maxDelayMs?: number;
  /** A `Retry-After` longer than this is not waited for: the call fails with `SP_CLIENT_GAVE_UP`. Default 60 s. */
  readonly maxRetryAfterMs?: number;
}

export interface SealpostClientOptions {
  /** The relay, `https://relay.example.com` (HTTPS only: the API key travels with every request). */
  readonly baseUrl: string | URL;
  /** An API key of your tenant with the `payloads:write` scope (`sp_live_…`). */
  readonly apiKey: string;
  /**
   * The tenant you send for (`ten_…`): the receipt must be for it. Unset: the API key's tenant,
   * as `GET /v1/signing-keys` names it.
   */
  readonly tenant?: string;
  /** The tenant's public keys. Unset: fetched from `GET /v1/signing-keys`, and again once when a receipt names a key not in them (rotation). */
  readonly jwks?: JwkSet;
  readonly retry?: RetryPolicy;
  /** Per request. Default 30 s. */
  readonly timeoutMs?: number;
  /** A fetch to use instead of the global one (a proxy, a private CA: pass undici's fetch with a dispatcher). */
  readonly fetch?: typeof fetch;
  /** How to wait between attempts (tests, schedulers). Default: a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SendPayloadOptions {
  /**
   * Makes the send safe to repeat: the relay stores one payload per key and answers a repeat with
   * the first receipt. Use your own id (`order-4711`) to be safe across restarts of your process
   * too; unset, one random key is made per call and used for each of its retries.
   */
  readonly idempotencyKey?: string;
  readonly attachments?: readonly Attachment[];
  /** Stops waiting and retrying (the payload may still have been accepted: repeat with the same key). */
  readonly signal?: AbortSignal;
}

export interface SentPayload {
  /** The payload's message id (`msg_…`), the `webhook-id` its destinations receive. */
  readonly id: string;
  /** The `accepted` receipt, its signature verified with the tenant's keys. Keep it: it proves the relay durably stored the payload. */
  readonly receipt: AcceptedReceipt;
  readonly issuedAt: Date;
  /** True when the relay had already accepted this idempotency key and answered with the first receipt. */
  readonly replayed: boolean;
  readonly idempotencyKey: string;
  /** Requests made, retries included. */
  readonly attempts: number;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

interface SigningKeys {
  readonly tenant: string;
  readonly jwks: JwkSet;
}

/**
 * Sends payloads to a Sealpost relay. One instance per relay and API key; it is safe to share.
 *
 * @example
 * ```ts
 * import { SealpostClient } from '@sealpost/client';
 * const sealpost = new SealpostClient({ baseUrl: 'https://relay.example.com', apiKey: process.env.SEALPOST_API_KEY! });
 * const { id, receipt } = await sealpost.sendPayload({ order: 4711 }, { idempotencyKey: 'order-4711' });
 * ```
 */
export class SealpostClient {
  readonly #base: URL;
  readonly #apiKey: string;
  readonly #tenant: string | undefined;
  readonly #givenJwks: JwkSet | undefined;
  readonly #retry: Required<RetryPolicy>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;
  #keys: Promise<SigningKeys> | undefined;

  constructor(options: SealpostClientOptions) {
    let base: URL;
    try {
      base = new URL(String(options.baseUrl));
    } catch {
      throw invalid('baseUrl is not a URL');
    }
    if (base.protocol !== 'https:') throw invalid('baseUrl must be https://');
    if (typeof options.apiKey !== 'string' || options.apiKey.length === 0) throw invalid('apiKey is required');
    this.#base = new URL(base.pathname.endsWith('/') ? base.href : `${base.href}/`);
    this.#apiKey = options.apiKey;
    this.#tenant = options.tenant;
    this.#givenJwks = options.jwks;
    this.#retry = {
      maxAttempts: options.retry?.maxAttempts ?? 5,
      baseDelayMs: options.retry?.baseDelayMs ?? 500,
      maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
      maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 60_000,
    };
    if (!Number.isInteger(this.#retry.maxAttempts) || this.#retry.maxAttempts < 1) throw invalid('retry.maxAttempts must be a positive integer');
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Sends one JSON payload (with optional attachments) to `POST /v1/payloads` and returns the
   * relay's `accepted` receipt once its signature, tenant and message id check out.
   *
   * Retries a 429 (after its `Retry-After`), a 5xx and a network failure with back-off, always
   * with the same `Idempotency-Key`, so a request whose answer was lost is never stored twice.
   * Any other 4xx fails at once (`SP_CLIENT_REJECTED`).
   *
   * @example
   * ```ts
   * const sent = await sealpost.sendPayload(
   *   { invoice: 'INV-7', total: 120.5 },
   *   { idempotencyKey: 'invoice-INV-7', attachments: [{ filename: 'INV-7.pdf', contentType: 'application/pdf', data: pdfBytes }] },
   * );
   * console.log(sent.id, sent.receipt.issued_at, sent.replayed);
   * ```
   */
  async sendPayload(json: unknown, options: SendPayloadOptions = {}): Promise<SentPayload> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) throw invalid('idempotencyKey must be 1 to 255 visible ASCII characters');
    let text: string | undefined;
    try {
      text = JSON.stringify(json);
    } catch (err) {
      throw invalid('the payload cannot be serialised as JSON', err);
    }
    if (text === undefined) throw invalid('the payload has no JSON form');
    const headers: Record<string, string> = { 'idempotency-key': idempotencyKey };
    let body: string | Blob = text;
    if (options.attachments?.length) {
      body = await multipart(text, options.attachments);
      headers['content-type'] = body.type;
    } else {
      headers['content-type'] = 'application/json';
    }

    const { answer, attempts } = await this.#withRetries('v1/payloads', { method: 'POST', headers, body }, options.signal);
    const accepted = answer.body as { id?: unknown; receipt?: unknown } | null;
    if (answer.status !== 202 || typeof accepted?.id !== 'string' || typeof accepted.receipt !== 'object' || accepted.receipt === null) {
      throw new SealpostClientError('SP_CLIENT_BAD_RESPONSE', `the relay answered ${answer.status} without an accepted receipt`, { status: answer.status, attempts });
    }
    const { receipt, issuedAt } = await this.#verify(accepted.receipt, options.signal);
    if (receipt.kind !== 'accepted' || receipt.message_id !== accepted.id) {
      throw new SealpostClientError('SP_CLIENT_BAD_RESPONSE', 'the receipt is not the accepted receipt of this payload', { status: answer.status, attempts });
    }
    return { id: accepted.id, receipt, issuedAt, replayed: answer.headers.get('idempotent-replayed') === 'true', idempotencyKey, attempts };
  }

  async #verify(receipt: object, signal: AbortSignal | undefined): Promise<{ receipt: AcceptedReceipt; issuedAt: Date }> {
    const check = (keys: SigningKeys) => {
      const verified = verifyReceipt(receipt, keys.jwks, { tenant: this.#tenant ?? keys.tenant });
      return { receipt: verified.receipt as AcceptedReceipt, issuedAt: verified.issuedAt };
    };
    try {
      return check(await this.#signingKeys(signal));
    } catch (err) {
      // A key published after our copy was fetched (rotation): fetch once more, then give the answer.
      if (this.#givenJwks !== undefined || !isVerifyError(err) || err.code !== 'SP_VERIFY_UNKNOWN_KEY') throw err;
      this.#keys = undefined;
      return check(await this.#signingKeys(signal));
    }
  }

  #signingKeys(signal: AbortSignal | undefined): Promise<SigningKeys> {
    if (this.#givenJwks !== undefined && this.#tenant !== undefined) return Promise.resolve({ tenant: this.#tenant, jwks: this.#givenJwks });
    if (this.#keys !== undefined) return this.#keys;
    const pending = this.#withRetries('v1/signing-keys', { method: 'GET', headers: {} }, signal).then(({ answer }) => {
      const view = answer.body as { tenant?: unknown; keys?: unknown } | null;
      if (answer.status !== 200 || typeof view?.tenant !== 'string' || !Array.isArray(view.keys)) {
        throw new SealpostClientError('SP_CLIENT_BAD_RESPONSE', `GET /v1/signing-keys answered ${answer.status} without the tenant's keys`, { status: answer.status });
      }
      return { tenant: view.tenant, jwks: this.#givenJwks ?? { keys: view.keys } };
    });
    this.#keys = pending;
    // A failed fetch is not kept: the next call tries again.
    pending.catch(() => {
      if (this.#keys === pending) this.#keys = undefined;
    });
    return pending;
  }

  async #withRetries(
    pathname: string,
    init: { method: string; headers: Record<string, string>; body?: string | Blob },
    signal: AbortSignal | undefined,
  ): Promise<{ answer: Answer; attempts: number }> {
    const url = new URL(pathname, this.#base);
    let last: { status?: number; problem?: Record<string, unknown>; cause?: unknown } = {};
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let wait: number | undefined;
      try {
        const answer = await this.#once(url, init, signal);
        if (answer.status < 400) return { answer, attempts: attempt };
        const problem = isObject(answer.body) ? answer.body : undefined;
        last = { status: answer.status, ...(problem ? { problem } : {}) };
        if (answer.status !== 429 && answer.status < 500) {
          throw new SealpostClientError('SP_CLIENT_REJECTED', `the relay refused the request: ${answer.status} ${describeProblem(problem)}`, { ...last, attempts: attempt });
        }
        wait = parseRetryAfter(answer.headers.get('retry-after'));
        if (wait !== undefined && wait > this.#retry.maxRetryAfterMs) {
          throw new SealpostClientError('SP_CLIENT_GAVE_UP', `the relay asked to retry in ${Math.ceil(wait / 1000)} s, longer than maxRetryAfterMs`, { ...last, attempts: attempt });
        }
      } catch (err) {
        if (err instanceof SealpostClientError || signal?.aborted) throw err;
        last = { cause: err }; // no answer (connection, TLS, timeout): the request may or may not have arrived
      }
      if (attempt >= this.#retry.maxAttempts) {
        const what = last.status === undefined ? 'no answer' : `${last.status} ${describeProblem(last.problem)}`;
        throw new SealpostClientError('SP_CLIENT_GAVE_UP', `gave up after ${attempt} attempts; last: ${what}`, { ...last, attempts: attempt });
      }
      await this.#sleep(wait ?? backoffDelay(attempt, this.#retry));
    }
  }

  async #once(url: URL, init: { method: string; headers: Record<string, string>; body?: string | Blob }, signal: AbortSignal | undefined): Promise<Answer> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.#fetch(url, {
        method: init.method,
        headers: { ...init.headers, authorization: `Bearer ${this.#apiKey}`, accept: 'application/json', 'user-agent': USER_AGENT },
        ...(init.body === undefined ? {} : { body: init.body }),
        redirect: 'error', // never replay the API key to wherever a redirect points
        signal: controller.signal,
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        body = undefined; // a proxy's HTML error page: the status says enough
      }
      return { status: response.status, headers: response.headers, body };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * The multipart body, encoded once into a Blob: every retry sends the same bytes, and a custom
 * `fetch` (another undici than the runtime's) need not understand this runtime's FormData.
 */
async function multipart(json: string, attachments: readonly Attachment[]): Promise<Blob> {
  const form = new FormData();
  form.append('payload', json);
  for (const [i, a] of attachments.entries()) {
    if (typeof a?.filename !== 'string' || a.filename.length === 0) throw invalid(`attachments[${i}].filename is required`);
    const type = a.contentType ?? 'application/octet-stream';
    const blob = a.data instanceof Blob ? a.data : new Blob([a.data], { type });
    form.append('attachment', blob, a.filename);
  }
  const encoded = new Response(form);
  return new Blob([await encoded.arrayBuffer()], { type: encoded.headers.get('content-type') ?? 'multipart/form-data' });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeProblem(problem: Record<string, unknown> | undefined): string {
  if (!problem) return '';
  const code = typeof problem.code === 'string' ? problem.code : '';
  const detail = typeof problem.detail === 'string' ? problem.detail : '';
  return [code, detail].filter(Boolean).join(': ');
}

function invalid(message: string, cause?: unknown): SealpostClientError {
  return new SealpostClientError('SP_CLIENT_INVALID_INPUT', message, cause === undefined ? {} : { cause });
}
