import { ApiError, problemOf } from './problem.ts';

/** The header the server checks on cookie-authenticated changes (src/identity/sessions/session-cookie.ts). */
export const CSRF_HEADER = 'x-sealpost-csrf';

/**
 * The session's CSRF token, held in this page's memory only: never in localStorage or a cookie
 * a script can read, so nothing persisted outlives the tab. The session itself is the
 * `__Host-sealpost_session` cookie (HttpOnly), which the browser sends and no script can read.
 */
let csrfToken: string | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

export type Query = Readonly<Record<string, string | number | boolean | undefined | null>>;

export interface RequestOptions {
  readonly query?: Query;
  /** A JSON body. */
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/** `/v1/payloads` + `{status: 'x'}` → `/v1/payloads?status=x`; empty values are left out. */
export function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Sends one call to the public API of the server that served this page (same origin only: the
 * path must be absolute, never a URL), with the session cookie and, on changes, the CSRF header.
 * Any non-2xx answer becomes an ApiError carrying its problem+json.
 */
export async function send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  if (!path.startsWith('/v1/')) throw new Error(`not an API path: ${path}`);
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (!SAFE_METHODS.has(method) && csrfToken) headers[CSRF_HEADER] = csrfToken;
  const res = await fetch(withQuery(path, options.query), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
    signal: options.signal,
  });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return res;
}

/** `send`, then the answer's JSON (undefined for 204). */
export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, options);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T,>(path: string, query?: Query, signal?: AbortSignal): Promise<T> => api<T>('GET', path, { query, signal });
export const post = <T,>(path: string, body?: unknown): Promise<T> => api<T>('POST', path, { body });
export const del = <T,>(path: string): Promise<T> => api<T>('DELETE', path);
