import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyReply } from 'fastify';
import type { VerifiedSsoIdentity } from '../../../src/identity/sso/sso-sign-in.port.js';
import { guardedIdpFetch } from '../../../src/identity/sso/idp-fetch.js';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { SealpostError } from '../../../src/errors/sealpost-error.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';
import { IDP_CLIENT_ID, IDP_CLIENT_SECRET, startTestIdp, type TestIdp } from './oidc-test-idp.js';
import { authorizeAtIdp, PUBLIC_URL } from './sso-browser.js';

const ADMIN_ACTOR = { type: 'api_key', id: 'test' } as const;

describe.each(testDialects())('OIDC login on %s', { timeout: 60_000 }, (dialect) => {
  let app: TestApp;
  let idp: TestIdp;
  /** The tenant with OIDC at the test IdP and example.com verified. */
  let tenant = '';
  /** A tenant whose configured issuer is not the one the IdP names. */
  let wrongIssuerTenant = '';
  const signedIn: VerifiedSsoIdentity[] = [];
  /** The port stands in for the sign-in (sso-sign-in.test.ts runs the real one): it captures, or refuses. */
  let portMode: 'capture' | 'refuse' = 'capture';
  const txt = new Map<string, string[][]>();
  let minutesAhead = 0;

  beforeAll(async () => {
    app = await startTestApp(dialect, {
      env: { SEALPOST_SSO_ALLOW_PRIVATE_IDP: '127.0.0.0/8,::1/128' },
      // Each test starts a new minute of the refusal counter, so its refusals are stored one by one.
      api: { now: () => Date.now() + minutesAhead * 60_000 },
      overrides: {
        ssoAllowHttpIdp: true,
        ssoTxtResolver: async (name) => txt.get(name) ?? [],
        ssoSignIn: {
          async complete(identity: VerifiedSsoIdentity, reply: FastifyReply) {
            if (portMode === 'refuse') throw new SealpostError('SP_ERR_AUTH_SSO_REQUIRED', 'refused by the test port');
            signedIn.push(identity);
            return reply.code(200).send({ signed_in: identity.email });
          },
        },
      },
    });
    tenant = (await app.createTenant()).tenant;
    wrongIssuerTenant = (await app.createTenant()).tenant;
    idp = await startTestIdp([tenant, wrongIssuerTenant].map((t) => `${PUBLIC_URL}/v1/auth/oidc/${t}/callback`));
    const sso = app.context.sso.config;
    await sso.putOidc(tenant, { issuer: idp.issuer, clientId: IDP_CLIENT_ID, clientSecret: IDP_CLIENT_SECRET }, ADMIN_ACTOR);
    // `localhost` reaches the same IdP, whose discovery document names 127.0.0.1 as the issuer.
    await sso.putOidc(wrongIssuerTenant, { issuer: `http://localhost:${idp.port}`, clientId: IDP_CLIENT_ID, clientSecret: IDP_CLIENT_SECRET }, ADMIN_ACTOR);
    const claim = await sso.addDomain(tenant, 'example.com', ADMIN_ACTOR);
    txt.set('_sealpost-verify.example.com', [[claim.verificationToken]]);
    await sso.verifyDomain(tenant, 'example.com', ADMIN_ACTOR);
    await sso.addDomain(tenant, 'unverified.example', ADMIN_ACTOR);
  });
  afterAll(async () => {
    await idp?.close();
    await app?.close();
  });
  beforeEach(() => {
    minutesAhead += 1;
    signedIn.length = 0;
    portMode = 'capture';
    idp.user = { sub: 'user-1', email: 'Ada@Example.com', email_verified: true, amr: ['pwd', 'mfa'] };
  });

  async function callback(path: string, cookie: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await app.fetch(path, { headers: { cookie } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function lastEvent(action: string): Promise<AuditEvent | undefined> {
    const row = await app.context.database.db.selectFrom('audit_events').select('event').where('action', '=', action).orderBy('log_index', 'desc').executeTakeFirst();
    return row?.event ? (JSON.parse(row.event) as AuditEvent) : undefined;
  }

  it('signs in a verified e-mail of a verified domain, telling the port the IdP asserted MFA', async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    expect(await callback(callbackPath, cookie)).toEqual({ status: 200, body: { signed_in: 'ada@example.com' } });
    expect(signedIn).toEqual([{ tenantId: tenant, email: 'ada@example.com', subject: 'user-1', provider: 'oidc', mfaAsserted: true }]);
    expect(await lastEvent('sso.login_succeeded')).toMatchObject({ tenant, details: { protocol: 'oidc', email: 'ada@example.com', mfa_asserted: true } });
  });

  it('tells the port no MFA was asserted when amr names none of the MFA values', async () => {
    idp.user = { ...idp.user, amr: ['pwd'] };
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    expect((await callback(callbackPath, cookie)).status).toBe(200);
    expect(signedIn).toEqual([expect.objectContaining({ mfaAsserted: false })]);
  });

  it('starts with PKCE S256, state and nonce, and binds the login to the browser with a __Host- cookie', async () => {
    const start = await app.fetch(`/v1/auth/oidc/${tenant}/start`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const url = new URL(start.headers.get('location') ?? '');
    expect(url.origin).toBe(idp.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: IDP_CLIENT_ID,
      response_type: 'code',
      code_challenge_method: 'S256',
      redirect_uri: `${PUBLIC_URL}/v1/auth/oidc/${tenant}/callback`,
      scope: 'openid email profile',
    });
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(start.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-sealpost_sso=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/)]);
  });

  it('refuses a forged state', async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    const forged = callbackPath.replace(/state=[^&]+/, 'state=forged-state-value');
    expect(await callback(forged, cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(signedIn).toEqual([]);
    expect(await lastEvent('sso.login_refused')).toMatchObject({ tenant, details: { protocol: 'oidc', code: 'SP_ERR_SSO_LOGIN_REFUSED', reason: 'unknown or used state' } });
  });

  it('refuses a callback from a browser other than the one that started the login', async () => {
    const { callbackPath } = await authorizeAtIdp(app, tenant);
    expect(await callback(callbackPath, '__Host-sealpost_sso=someone-elses-binding')).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(await callback(callbackPath, '')).toMatchObject({ status: 401 });
    expect(signedIn).toEqual([]);
  });

  it('refuses a replayed callback (the code and state are used once)', async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    expect((await callback(callbackPath, cookie)).status).toBe(200);
    expect(await callback(callbackPath, cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(signedIn).toHaveLength(1);
  });

  it('refuses a code already redeemed, even under a fresh state of the same browser', async () => {
    const first = await authorizeAtIdp(app, tenant);
    expect((await callback(first.callbackPath, first.cookie)).status).toBe(200);
    const usedCode = new URLSearchParams(first.callbackPath.split('?')[1]).get('code') ?? '';
    const second = await authorizeAtIdp(app, tenant);
    const replayed = second.callbackPath.replace(/code=[^&]+/, `code=${encodeURIComponent(usedCode)}`);
    expect(await callback(replayed, second.cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(await lastEvent('sso.login_refused')).toMatchObject({ details: { reason: 'IdP refused the code' } });
    expect(signedIn).toHaveLength(1);
  });

  it("refuses a state presented at another tenant's callback", async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    const other = callbackPath.replace(tenant, wrongIssuerTenant);
    expect(await callback(other, cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(signedIn).toEqual([]);
  });

  it('refuses an expired login state', async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    await app.context.database.db.updateTable('sso_login_states').set({ expires_at: Date.now() - 1 }).execute();
    expect(await callback(callbackPath, cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(await lastEvent('sso.login_refused')).toMatchObject({ details: { reason: 'expired state' } });
  });

  it('refuses a code the IdP did not issue', async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    const forged = callbackPath.replace(/code=[^&]+/, 'code=not-a-code-the-idp-issued');
    expect(await callback(forged, cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(await lastEvent('sso.login_refused')).toMatchObject({ details: { reason: 'IdP refused the code' } });
  });

  it('refuses an ID token whose nonce is not the one the login sent', async () => {
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    const state = new URLSearchParams(callbackPath.split('?')[1]).get('state') ?? '';
    const hash = createHash('sha256').update(state).digest('hex');
    const taken = await app.context.sso.loginStates.take(hash);
    expect(taken).toBeDefined();
    await app.context.sso.loginStates.insert(hash, { ...taken!, secrets: { ...taken!.secrets, nonce: 'a-different-nonce' } }, Date.now());
    expect(await callback(callbackPath, cookie)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(await lastEvent('sso.login_refused')).toMatchObject({ details: { reason: 'token response failed validation' } });
    expect(signedIn).toEqual([]);
  });

  it('refuses an IdP whose discovery document names another issuer', async () => {
    const start = await app.fetch(`/v1/auth/oidc/${wrongIssuerTenant}/start`, { redirect: 'manual' });
    expect(start.status).toBe(502);
    expect(await start.json()).toMatchObject({ code: 'SP_ERR_SSO_IDP_UNAVAILABLE' });
  });

  it('refuses an e-mail the IdP has not verified', async () => {
    idp.user = { ...idp.user, email_verified: false };
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    expect(await callback(callbackPath, cookie)).toMatchObject({ status: 403, body: { code: 'SP_ERR_SSO_EMAIL_REFUSED' } });
    expect(signedIn).toEqual([]);
    expect(await lastEvent('sso.login_refused')).toMatchObject({ details: { code: 'SP_ERR_SSO_EMAIL_REFUSED', reason: 'e-mail not verified by the IdP' } });
  });

  it('refuses an e-mail whose domain the tenant has not verified', async () => {
    for (const email of ['eve@unverified.example', 'eve@example.com.evil.test', 'eve@sub.example.com']) {
      idp.user = { ...idp.user, email };
      const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
      expect(await callback(callbackPath, cookie), email).toMatchObject({ status: 403, body: { code: 'SP_ERR_SSO_EMAIL_REFUSED' } });
    }
    expect(signedIn).toEqual([]);
  });

  it('records sso.login_refused with reason "sign-in refused" when the sign-in refuses a verified login', async () => {
    portMode = 'refuse';
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    expect(await callback(callbackPath, cookie)).toMatchObject({ status: 403, body: { code: 'SP_ERR_AUTH_SSO_REQUIRED' } });
    expect(await lastEvent('sso.login_succeeded')).toMatchObject({ tenant, details: { protocol: 'oidc' } });
    expect(await lastEvent('sso.login_refused')).toMatchObject({ tenant, details: { code: 'SP_ERR_AUTH_SSO_REQUIRED', reason: 'sign-in refused' } });
  });

  it('stores a few refused logins per client and minute, and counts the rest into api.refused', async () => {
    await app.services.refused.flush();
    const count = async (action: string): Promise<number> =>
      Number((await app.context.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', action).where('tenant_id', '=', tenant).executeTakeFirstOrThrow()).n);
    const stored = await count('sso.login_refused');
    for (let i = 0; i < 12; i++) expect((await callback(`/v1/auth/oidc/${tenant}/callback?state=flood-${i}&code=x`, '')).status).toBe(401);
    // At most five of this minute's refusals are stored one by one (fewer when the minute already had some).
    expect((await count('sso.login_refused')) - stored).toBeLessThanOrEqual(5);
    await app.services.refused.flush();
    const aggregate = await app.context.database.db.selectFrom('audit_events').select('event').where('action', '=', 'api.refused').where('tenant_id', '=', tenant).executeTakeFirst();
    expect(JSON.parse(aggregate?.event ?? '{}')).toMatchObject({ details: { count: expect.any(Number), statuses: { '401': expect.any(Number) } } });
    expect((await count('sso.login_refused')) - stored + (JSON.parse(aggregate?.event ?? '{}') as { details: { count: number } }).details.count).toBeGreaterThanOrEqual(12);
  });

  it('answers 404 for a tenant without OIDC, and writes no audit event for it', async () => {
    const bare = (await app.createTenant()).tenant;
    const before = await app.context.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'sso.login_refused').executeTakeFirstOrThrow();
    expect((await app.fetch(`/v1/auth/oidc/${bare}/start`, { redirect: 'manual' })).status).toBe(404);
    expect((await app.fetch(`/v1/auth/oidc/${bare}/callback?state=x&code=y`)).status).toBe(404);
    const after = await app.context.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'sso.login_refused').executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('reads an IdP answer only up to its size limit', async () => {
    const small = guardedIdpFetch(['127.0.0.1/32'], 256);
    try {
      await expect(small.fetch(`${idp.issuer}/.well-known/openid-configuration`, { method: 'GET', headers: new Headers(), body: undefined, redirect: 'manual' } as never)).rejects.toThrow(/larger than 256 bytes/);
    } finally {
      await small.close();
    }
  });

  it('refuses an IdP on a loopback address unless the operator allows it (SSRF guard)', async () => {
    const guarded = guardedIdpFetch(false);
    try {
      await expect(guarded.fetch(`${idp.issuer}/.well-known/openid-configuration`, { method: 'GET', headers: new Headers(), body: undefined, redirect: 'manual' } as never)).rejects.toThrow();
      const allowed = guardedIdpFetch(['127.0.0.1/32']);
      const res = await allowed.fetch(`${idp.issuer}/.well-known/openid-configuration`, { method: 'GET', headers: new Headers(), body: undefined, redirect: 'manual' } as never);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ issuer: idp.issuer });
      await allowed.close();
    } finally {
      await guarded.close();
    }
  });
});
