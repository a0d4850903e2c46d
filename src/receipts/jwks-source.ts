import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Ed25519Jwk, JwkSet } from '@sealpost/verify';
import { SealpostError } from '../errors/sealpost-error.js';

/** A JWKS is a few hundred bytes per key; anything this large is not one. */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** A JWKS fetch that takes longer than this is treated as failed. */
export const JWKS_FETCH_TIMEOUT_MS = 10_000;

function unreadable(source: string, reason: string, cause?: unknown): SealpostError {
  return new SealpostError('SP_ERR_SIGNING_JWKS_UNREADABLE', `JWKS ${source}: ${reason}`, { cause });
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

async function readLimited(response: Response, source: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_JWKS_BYTES) throw unreadable(source, `larger than ${MAX_JWKS_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > MAX_JWKS_BYTES) throw unreadable(source, `larger than ${MAX_JWKS_BYTES} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(chunks);
}

async function fetchJwks(url: URL, source: string): Promise<Buffer> {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw unreadable(source, 'only https:// URLs are fetched (plain http:// only to a loopback address)');
  }
  let response: Response;
  try {
    // No redirects: one could lead from https to plain http.
    response = await fetch(url, { redirect: 'error', headers: { accept: 'application/jwk-set+json, application/json' }, signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS) });
  } catch (cause) {
    throw unreadable(source, `fetch failed (${(cause as Error).message})`, cause);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw unreadable(source, `the server answered ${response.status}`);
  }
  return readLimited(response, source);
}

async function readJwksFile(file: string): Promise<Buffer> {
  try {
    if ((await stat(file)).size > MAX_JWKS_BYTES) throw unreadable(file, `larger than ${MAX_JWKS_BYTES} bytes`);
    return await readFile(file);
  } catch (cause) {
    if (cause instanceof SealpostError) throw cause;
    throw unreadable(file, (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read', cause);
  }
}

/**
 * Reads a JWKS from a file or an `https://` URL (plain `http://` only to a loopback address, for
 * local tests), for `sealpost verify --jwks`. Only the shape `{"keys": [...]}` is checked here;
 * the keys themselves are checked by @sealpost/verify when one is used.
 */
export async function loadJwks(source: string): Promise<JwkSet> {
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(source);
  let bytes: Buffer;
  if (isUrl) {
    let url: URL;
    try {
      url = new URL(source);
    } catch (cause) {
      throw unreadable(source, 'not a valid URL', cause);
    }
    bytes = await fetchJwks(url, source);
  } else {
    bytes = await readJwksFile(source);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw unreadable(source, 'not valid JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    throw unreadable(source, 'not a JWK set ({"keys": [...]})');
  }
  return parsed as JwkSet;
}

/** Several sets as one, as @sealpost/verify suggests for the live set and the archive. */
export function mergeJwks(sets: readonly JwkSet[]): JwkSet {
  const keys: Ed25519Jwk[] = [];
  const seen = new Set<string>();
  for (const set of sets) {
    for (const key of set.keys) {
      // The same key fetched from two sources is one key; different keys under one kid stay
      // and make the verifier refuse the kid, as they should.
      const id = JSON.stringify(key);
      if (seen.has(id)) continue;
      seen.add(id);
      keys.push(key);
    }
  }
  return { keys };
}
