import { Agent, fetch as undiciFetch } from 'undici';
import type { CustomFetch } from 'openid-client';
import { isIP } from 'node:net';
import { AddressPolicy, addressRefused, guardedLookup, type PrivateDestinationAllowance } from '../../delivery/ssrf-guard.js';

/** A slow IdP must not hold a login (and a request worker) for long. */
export const IDP_TIMEOUT_SECONDS = 10;

/**
 * The fetch openid-client uses for a tenant's IdP (discovery, JWKS, token, userinfo). The issuer
 * URL is tenant input, so every connection goes through the SSRF guard: an address on loopback,
 * private, link-local or metadata ranges is refused at connect time (DNS rebinding included)
 * unless `SEALPOST_SSO_ALLOW_PRIVATE_IDP` allows it. Redirects are not followed (openid-client
 * asks for `redirect: 'manual'`).
 */
export function guardedIdpFetch(allowance: PrivateDestinationAllowance): { fetch: CustomFetch; close(): Promise<void> } {
  const policy = AddressPolicy.from(allowance);
  const agent = new Agent({ connect: { lookup: guardedLookup(policy) } });
  const fetch: CustomFetch = async (url, options) => {
    // A literal IP never goes through the lookup: check it here.
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const reason = isIP(host) === 0 ? undefined : policy.refusal(host);
    if (reason !== undefined) throw addressRefused(host, host, reason);
    const response = await undiciFetch(url, { ...(options as Parameters<typeof undiciFetch>[1]), dispatcher: agent });
    return response as unknown as Response;
  };
  return { fetch, close: () => agent.close() };
}
