import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type * as Oidc from 'openid-client';
import { isSealpostError } from '../../errors/sealpost-error.js';
import { IDP_TIMEOUT_SECONDS, loadOpenidClient } from './idp-fetch.js';
import { oidcAssertsMfa } from './mfa-rule.js';
import type { OidcSettings, StoredSetting } from './sso-config.repository.js';
import type { SsoConfigService } from './sso-config.service.js';
import { emailDomain } from './sso-domain.js';
import type { SsoLoginStateRepository } from './sso-login-state.repository.js';
import { emailRefused, idpUnavailable, loginRefused } from './sso-refusal.js';
import type { VerifiedSsoIdentity } from './sso-sign-in.port.js';
import { SealpostError } from '../../errors/sealpost-error.js';

/** How long a started login may take at the IdP (the brief allows at most 10 minutes). */
export const LOGIN_STATE_TTL_MS = 10 * 60_000;
/** Discovery documents and keys are fetched again after this, or at once when the setting changes. */
const DISCOVERY_TTL_MS = 10 * 60_000;
/** Bounds the discovery cache; beyond it the cache starts over (it is only a cache). */
const DISCOVERY_CACHE_MAX = 1_000;

export interface OidcStart {
  /** Where the browser goes: the IdP's authorization endpoint with state, nonce and the PKCE challenge. */
  readonly authorizationUrl: string;
  /** The random value of the browser-binding cookie; only its hash is stored. */
  readonly binding: string;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The `code` of an openid-client / oauth4webapi error (a fixed constant), if any. */
export function libraryCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the error is the network failing (or the SSRF guard refusing), not the IdP's answer. */
export function isNetworkFailure(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (isSealpostError(e) && e.code === 'SP_ERR_DESTINATION_ADDRESS_REFUSED') return true;
    if (e instanceof TypeError && /fetch failed/.test(e.message)) return true;
    if ((e as { name?: unknown }).name === 'TimeoutError' || (e as { name?: unknown }).name === 'AbortError') return true;
  }
  return false;
}

/**
 * OpenID Connect login for a tenant: authorization code flow with PKCE (S256), `state` and
 * `nonce`, through openid-client v6, which checks the ID token's signature, issuer, audience,
 * expiry and nonce, and the authorization response's `iss` (RFC 9207) when the IdP sends it.
 * Each state is used once, expires after 10 minutes and is bound to the browser that started it.
 */
export class OidcLoginService {
  private readonly discovered = new Map<string, { key: string; config: Oidc.Configuration; until: number }>();

  constructor(
    private readonly settings: SsoConfigService,
    private readonly states: SsoLoginStateRepository,
    private readonly deps: {
      readonly fetch: Oidc.CustomFetch;
      /** Tests only: plain http:// issuers on loopback (openid-client's allowInsecureRequests). */
      readonly allowHttpIdp?: boolean;
      readonly now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async setting(tenantId: string): Promise<StoredSetting<OidcSettings>> {
    const stored = await this.settings.oidcSettings(tenantId);
    if (!stored) throw new SealpostError('SP_ERR_SSO_NOT_CONFIGURED', 'OIDC is not configured for this tenant');
    return stored;
  }

  /** The tenant's IdP configuration (discovery), cached per setting version. */
  private async configuration(tenantId: string, stored: StoredSetting<OidcSettings>): Promise<Oidc.Configuration> {
    const { settings } = stored;
    const key = `${stored.updatedAt}\n${settings.issuer}\n${settings.clientId}`;
    const cached = this.discovered.get(tenantId);
    if (cached && cached.key === key && cached.until > this.now()) return cached.config;
    let config: Oidc.Configuration;
    const oidc = await loadOpenidClient();
    try {
      // discovery() refuses a document whose `issuer` is not exactly the configured issuer.
      config = await oidc.discovery(new URL(settings.issuer), settings.clientId, undefined, oidc.ClientSecretBasic(settings.clientSecret), {
        [oidc.customFetch]: this.deps.fetch,
        timeout: IDP_TIMEOUT_SECONDS,
        ...(this.deps.allowHttpIdp ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
    } catch (err) {
      throw idpUnavailable(isNetworkFailure(err) ? 'discovery unreachable' : 'discovery document refused', err, libraryCode(err));
    }
    if (this.discovered.size >= DISCOVERY_CACHE_MAX) this.discovered.clear();
    this.discovered.set(tenantId, { key, config, until: this.now() + DISCOVERY_TTL_MS });
    return config;
  }

  async start(tenantId: string): Promise<OidcStart> {
    const stored = await this.setting(tenantId);
    const config = await this.configuration(tenantId, stored);
    const oidc = await loadOpenidClient();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const binding = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.states.insert(sha256Hex(state), { tenantId, protocol: 'oidc', browserSha256: sha256Hex(binding), secrets: { nonce, codeVerifier }, expiresAt: now + LOGIN_STATE_TTL_MS }, now);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.oidcRedirectUri(tenantId),
      scope: stored.settings.scopes.join(' '),
      response_type: 'code',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { authorizationUrl: url.href, binding };
  }

  /**
   * Finishes a login from the IdP's redirect (`query` is the callback's raw query string) and
   * returns the verified identity; throws SP_ERR_SSO_LOGIN_REFUSED / _EMAIL_REFUSED /
   * _IDP_UNAVAILABLE otherwise. The state is consumed whatever the outcome.
   */
  async callback(tenantId: string, query: string, binding: string | undefined): Promise<VerifiedSsoIdentity> {
    const stored = await this.setting(tenantId);
    const params = new URLSearchParams(query);
    const state = params.get('state');
    if (!state) throw loginRefused('no state');
    const login = await this.states.take(sha256Hex(state));
    if (!login) throw loginRefused('unknown or used state');
    if (login.tenantId !== tenantId) throw loginRefused('state of another tenant');
    if (login.expiresAt <= this.now()) throw loginRefused('expired state');
    if (!binding || !sameHash(sha256Hex(binding), login.browserSha256)) throw loginRefused('state started by another browser');

    const config = await this.configuration(tenantId, stored);
    const callbackUrl = new URL(this.settings.oidcRedirectUri(tenantId));
    callbackUrl.search = query;
    const oidc = await loadOpenidClient();
    let tokens: Awaited<ReturnType<typeof Oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: login.secrets.codeVerifier,
        expectedState: state,
        expectedNonce: login.secrets.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      if (isNetworkFailure(err)) throw idpUnavailable('token endpoint unreachable', err, libraryCode(err));
      if (err instanceof oidc.AuthorizationResponseError) throw loginRefused('IdP returned an error', err, libraryCode(err));
      if (err instanceof oidc.ResponseBodyError) throw loginRefused('IdP refused the code', err, libraryCode(err));
      throw loginRefused('token response failed validation', err, libraryCode(err));
    }
    const claims = tokens.claims();
    if (!claims) throw loginRefused('no ID token');
    const idToken = claims as Readonly<Record<string, unknown>>;
    let profile: { email?: unknown; email_verified?: unknown } = idToken;
    if (profile.email === undefined || profile.email_verified === undefined) {
      // Many IdPs put e-mail claims only in the userinfo answer when an access token is issued.
      try {
        profile = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...withoutUndefined(idToken) };
      } catch (err) {
        if (isNetworkFailure(err)) throw idpUnavailable('userinfo endpoint unreachable', err, libraryCode(err));
        throw loginRefused('userinfo failed validation', err, libraryCode(err));
      }
    }
    if (typeof profile.email !== 'string' || profile.email.length > 320) throw emailRefused('no e-mail');
    if (profile.email_verified !== true) throw emailRefused('e-mail not verified by the IdP');
    const email = profile.email.toLowerCase();
    const domain = emailDomain(email);
    if (!domain || !(await this.settings.isDomainVerified(tenantId, domain))) throw emailRefused('e-mail domain not verified for the tenant');
    return {
      tenantId,
      email,
      subject: claims.sub,
      provider: 'oidc',
      mfaAsserted: oidcAssertsMfa(idToken, { amr: stored.settings.mfaAmr, acr: stored.settings.mfaAcr }),
    };
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
