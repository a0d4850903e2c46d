import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import type { CustomFetch } from 'openid-client';
import { AddressPolicy, addressRefused, guardedLookup, type PrivateDestinationAllowance } from '../../delivery/ssrf-guard.js';
import { lazyImport } from '../../util/lazy-import.js';

/** openid-client, loaded at the first OIDC sign-in (tenant SSO or staff): most processes never start one. */
export const loadOpenidClient = lazyImport(() => import('openid-client'));

/** A slow IdP must not hold a login (and a request worker) for long. */
export const IDP_TIMEOUT_SECONDS = 10;
/** Discovery documents, JWKS and token answers are a few KB; a tenant's IdP may not make us buffer more. */
export const MAX_IDP_RESPONSE_BYTES = 1024 * 1024;

/** Reads at most `limit` bytes of a body; throws beyond that, having cancelled the rest. */
async function boundedBody(body: AsyncIterable<Uint8Array> | null, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!body) return Buffer.alloc(0);
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`IdP response larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * The fetch openid-client uses for a tenant's IdP (discovery, JWKS, token, userinfo). The issuer
 * URL is tenant input, so every connection goes through the SSRF guard: an address on loopback,
 * private, link-local or metadata ranges is refused at connect time (DNS rebinding included)
 * unless `SEALPOST_SSO_ALLOW_PRIVATE_IDP` allows it. Redirects are not followed (openid-client
 * asks for `redirect: 'manual'`), and answers are read up to MAX_IDP_RESPONSE_BYTES.
 */
export function guardedIdpFetch(allowance: PrivateDestinationAllowance, limit = MAX_IDP_RESPONSE_BYTES): { fetch: CustomFetch; close(): Promise<void> } {
  const policy = AddressPolicy.from(allowance);
  const agent = new Agent({ connect: { lookup: guardedLookup(policy) } });
  const fetch: CustomFetch = async (url, options) => {
    // A literal IP never goes through the lookup: check it here.
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const reason = isIP(host) === 0 ? undefined : policy.refusal(host);
    if (reason !== undefined) throw addressRefused(host, host, reason);
    const response = await undiciFetch(url, { ...(options as Parameters<typeof undiciFetch>[1]), dispatcher: agent });
    const body = await boundedBody(response.body, limit);
    // Rebuilt as a global Response: the body is already decoded, so no encoding or length applies.
    const headers = new Headers(response.headers as unknown as Headers);
    headers.delete('content-encoding');
    headers.delete('content-length');
    return new Response(body.length === 0 && [204, 304].includes(response.status) ? null : body, { status: response.status, statusText: response.statusText, headers });
  };
  return { fetch, close: () => agent.close() };
}
