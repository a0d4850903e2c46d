import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Response } from 'undici';
import { asOperator, passwordLogin, signInAs, TestClock, totpAt, type SignedInOperator } from '../../support/operators.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';
import { IDP_CLIENT_ID, IDP_CLIENT_SECRET, startTestIdp, type TestIdp } from './oidc-test-idp.js';
import { encodeResponse, idpKeyPair, samlResponseXml, signAssertion, type IdpKeyPair } from './saml-test-idp.js';
import { authorizeAtIdp, PUBLIC_URL } from './sso-browser.js';

const ADMIN = { type: 'api_key', id: 'test' } as const;
const IDP_ENTITY_ID = 'https://idp.example.com/saml';
/** The values this tenant names as multi-factor: a hardware key over OIDC, the REFEDS MFA profile over SAML. */
const TENANT_MFA_AMR = 'hwk';
const TENANT_MFA_CONTEXT = 'https://refeds.org/profile/mfa';
const MINUTE = 60_000;

interface Session {
  readonly cookie: string;
  readonly csrf: string;
}

/**
 * SSO through the real sign-in (identity/sessions/sso-sign-in.ts): the IdP's answer becomes an
 * operator session, and SSO never bypasses the second factor.
 */
describe.each(testDialects())('SSO sign-in into operator sessions on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let idp: TestIdp;
  let idpKey: IdpKeyPair;
  let tenant = '';
  let owner: SignedInOperator;
  let spEntityId = '';
  const clock = new TestClock();
  const txt = new Map<string, string[][]>();
  let n = 0;
  const nextEmail = (who: string): string => `${who}-${++n}@example.com`;

  beforeAll(async () => {
    idpKey = await idpKeyPair('Test IdP');
    app = await startTestApp(dialect, {
      env: { SEALPOST_SSO_ALLOW_PRIVATE_IDP: '127.0.0.0/8,::1/128' },
      overrides: { ssoAllowHttpIdp: true, ssoTxtResolver: async (name) => txt.get(name) ?? [], identityClock: clock.now },
    });
    tenant = (await app.createTenant()).tenant;
    idp = await startTestIdp([`${PUBLIC_URL}/v1/auth/oidc/${tenant}/callback`]);
    const sso = app.context.sso.config;
    await sso.putOidc(tenant, { issuer: idp.issuer, clientId: IDP_CLIENT_ID, clientSecret: IDP_CLIENT_SECRET, mfaAmr: [TENANT_MFA_AMR] }, ADMIN);
    spEntityId = (await sso.putSaml(tenant, { idpEntityId: IDP_ENTITY_ID, idpSsoUrl: 'https://idp.example.com/sso', idpCertificates: [idpKey.certPem], mfaAuthnContexts: [TENANT_MFA_CONTEXT] }, ADMIN)).spEntityId;
    const claim = await sso.addDomain(tenant, 'example.com', ADMIN);
    txt.set('_sealpost-verify.example.com', [[claim.verificationToken]]);
    await sso.verifyDomain(tenant, 'example.com', ADMIN);
    owner = await signInAs(app, clock, tenant, 'owner');
  });
  afterAll(async () => {
    await idp?.close();
    await app?.close();
  });
  beforeEach(async () => {
    // A fresh TOTP time step for every test, and the tenant's default policy.
    clock.advance(MINUTE);
    await setPolicy({ sso_only: false, sso_default_role: 'viewer', webauthn_only: false });
  });

  async function setPolicy(change: Record<string, unknown>): Promise<void> {
    const res = await app.fetch('/v1/policies', { method: 'PUT', headers: asOperator(owner, { 'content-type': 'application/json' }), body: JSON.stringify(change) });
    if (res.status !== 200) throw new Error(`policy change failed: ${res.status} ${await res.text()}`);
  }

  async function oidcLogin(email: string, amr: string[]): Promise<Response> {
    idp.user = { sub: `sub-${email}`, email, email_verified: true, amr };
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    return app.fetch(callbackPath, { headers: { cookie } });
  }

  async function samlLogin(email: string, authnContextClassRef?: string): Promise<Response> {
    const acsUrl = `${PUBLIC_URL}/v1/auth/saml/${tenant}/acs`;
    const now = Date.now();
    const xml = samlResponseXml({ issuer: IDP_ENTITY_ID, audience: spEntityId, recipient: acsUrl, destination: acsUrl, email, notBefore: new Date(now - MINUTE), notOnOrAfter: new Date(now + 5 * MINUTE), ...(authnContextClassRef ? { authnContextClassRef } : {}) });
    return app.fetch(`/v1/auth/saml/${tenant}/acs`, { method: 'POST', body: new URLSearchParams({ SAMLResponse: encodeResponse(signAssertion(xml, idpKey)), RelayState: 'x' }) });
  }

  async function sessionOf(res: Response): Promise<{ session: Session; body: Record<string, unknown> }> {
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    // The OIDC callback also clears the login's browser binding cookie: take the session's.
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-sealpost_session=')) ?? '';
    return { session: { cookie: cookie.split(';')[0] ?? '', csrf: String(body.csrf_token) }, body };
  }

  const get = (path: string, session: Session) => app.fetch(path, { headers: asOperator(session) });
  const post = (path: string, session: Session, body?: unknown) =>
    app.fetch(path, { method: 'POST', headers: asOperator(session, body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  async function expectOnlySecondFactorStep(session: Session): Promise<void> {
    for (const path of ['/v1/payloads', '/v1/members', '/v1/api-keys', '/v1/sso/domains']) {
      const res = await get(path, session);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { code: string }).code, path).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
    }
    expect((await get('/v1/auth/session', session)).status).toBe(200);
  }

  async function role(session: Session): Promise<string> {
    const res = await get('/v1/auth/session', session);
    return ((await res.json()) as { operator: { role: string } }).operator.role;
  }

  /** Enrols TOTP in a pending session; returns the rotated, satisfied session and the secret. */
  async function enrolTotp(pending: Session): Promise<{ session: Session; secret: string }> {
    const { secret } = (await (await post('/v1/auth/totp/enrolment', pending)).json()) as { secret: string };
    const confirm = await post('/v1/auth/totp/confirmation', pending, { totp: await totpAt(secret, clock) });
    const { session } = await sessionOf(confirm);
    clock.advance(30_000);
    return { session, secret };
  }

  it('asks an OIDC login without MFA for the second factor: enrolment first, then TOTP at each sign-in', async () => {
    const email = nextEmail('ada');
    const first = await sessionOf(await oidcLogin(email, ['pwd']));
    expect(first.body).toMatchObject({ second_factor_required: false, enrolment_required: true, session: { second_factor_satisfied: false } });
    await expectOnlySecondFactorStep(first.session);

    const { session: enrolled, secret } = await enrolTotp(first.session);
    expect(enrolled.cookie).not.toBe(first.session.cookie);
    expect((await get('/v1/payloads', enrolled)).status).toBe(200);
    // What the role allows, and no more: a viewer (the default SSO role) cannot change policies.
    expect((await app.fetch('/v1/policies', { method: 'PUT', headers: asOperator(enrolled, { 'content-type': 'application/json' }), body: '{"sso_only":true}' })).status).toBe(403);
    // The token from before the enrolment is worth nothing.
    expect((await get('/v1/auth/session', first.session)).status).toBe(401);

    // `mfa` is a default, but this tenant named only `hwk`: the IdP's `mfa` does not count.
    const again = await sessionOf(await oidcLogin(email, ['pwd', 'mfa']));
    expect(again.body).toMatchObject({ second_factor_required: true, enrolment_required: false });
    await expectOnlySecondFactorStep(again.session);
    const verified = await sessionOf(await post('/v1/auth/second-factor', again.session, { totp: await totpAt(secret, clock) }));
    expect((await get('/v1/payloads', verified.session)).status).toBe(200);
  });

  it('asks a SAML login without the MFA context for the second factor', async () => {
    const first = await sessionOf(await samlLogin(nextEmail('grace')));
    expect(first.body).toMatchObject({ enrolment_required: true, session: { second_factor_satisfied: false } });
    await expectOnlySecondFactorStep(first.session);
    const { session } = await enrolTotp(first.session);
    expect((await get('/v1/payloads', session)).status).toBe(200);
  });

  it('satisfies the second factor at once when the IdP asserts MFA by a value the tenant named', async () => {
    const oidc = await sessionOf(await oidcLogin(nextEmail('linus'), ['pwd', TENANT_MFA_AMR]));
    expect(oidc.body).toMatchObject({ second_factor_required: false, enrolment_required: false, session: { second_factor_satisfied: true } });
    expect((await get('/v1/payloads', oidc.session)).status).toBe(200);

    const saml = await sessionOf(await samlLogin(nextEmail('barbara'), TENANT_MFA_CONTEXT));
    expect(saml.body).toMatchObject({ session: { second_factor_satisfied: true } });
    expect((await get('/v1/payloads', saml.session)).status).toBe(200);
    const method = ((await (await get('/v1/auth/session', saml.session)).json()) as { session: { method: string } }).session.method;
    expect(method).toBe('saml');
  });

  it("does not count the IdP's MFA under webauthn_only: the person still enrols or proves a WebAuthn key", async () => {
    await setPolicy({ webauthn_only: true });
    const oidc = await sessionOf(await oidcLogin(nextEmail('edsger'), ['pwd', TENANT_MFA_AMR]));
    expect(oidc.body).toMatchObject({ second_factor_required: false, enrolment_required: true, session: { second_factor_satisfied: false } });
    await expectOnlySecondFactorStep(oidc.session);
    const saml = await sessionOf(await samlLogin(nextEmail('frances'), TENANT_MFA_CONTEXT));
    expect(saml.body).toMatchObject({ session: { second_factor_satisfied: false } });
    await expectOnlySecondFactorStep(saml.session);
  });

  it("sends a person's browser on to the console after SSO, signed in (API clients keep the JSON)", async () => {
    const email = nextEmail('hedy');
    idp.user = { sub: `sub-${email}`, email, email_verified: true, amr: ['pwd', TENANT_MFA_AMR] };
    const { callbackPath, cookie } = await authorizeAtIdp(app, tenant);
    const res = await app.fetch(callbackPath, { headers: { cookie, accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/');
    const sessionCookie = (res.headers.getSetCookie().find((c) => c.startsWith('__Host-sealpost_session=')) ?? '').split(';')[0]!;
    // The console's first call reads the session, and its CSRF token, with that cookie alone.
    const info = await app.fetch('/v1/auth/session', { headers: { cookie: sessionCookie } });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ operator: { email }, session: { second_factor_satisfied: true }, csrf_token: expect.any(String) as unknown });
  });

  it("refuses password sign-in to an sso_only tenant's operators while SSO still signs them in", async () => {
    const member = await signInAs(app, clock, tenant, 'developer', nextEmail('margaret'));
    await setPolicy({ sso_only: true });
    const password = await passwordLogin(app, member.email);
    expect(password.res.status).toBe(403);
    expect(password.body).toMatchObject({ code: 'SP_ERR_AUTH_SSO_REQUIRED' });
    expect(password.res.headers.get('set-cookie')).toBeNull();

    const oidc = await sessionOf(await oidcLogin(member.email, [TENANT_MFA_AMR]));
    expect((await get('/v1/payloads', oidc.session)).status).toBe(200);
    const saml = await sessionOf(await samlLogin(member.email));
    expect(saml.body).toMatchObject({ second_factor_required: true });
  });

  it("creates a new operator just in time with the tenant's sso_default_role, and an existing member keeps their role", async () => {
    await setPolicy({ sso_default_role: 'developer' });
    const created = await sessionOf(await samlLogin(nextEmail('new'), TENANT_MFA_CONTEXT));
    expect(await role(created.session)).toBe('developer');
    const event = await app.context.database.db.selectFrom('audit_events').select('event').where('action', '=', 'operator.created').where('tenant_id', '=', tenant).orderBy('log_index', 'desc').executeTakeFirstOrThrow();
    expect(JSON.parse(event.event ?? '{}')).toMatchObject({ actor: { type: 'system', id: 'saml' }, details: { role: 'developer', created: true, via: 'saml' } });

    const admin = await signInAs(app, clock, tenant, 'admin', nextEmail('admin'));
    const existing = await sessionOf(await oidcLogin(admin.email, [TENANT_MFA_AMR]));
    expect(await role(existing.session)).toBe('admin');
    expect(existing.session.cookie).not.toBe(admin.cookie);
  });

  it('sets the session cookie with the same flags as a password sign-in', async () => {
    const flags = (res: Response) => {
      const header = res.headers.getSetCookie().find((c) => c.startsWith('__Host-sealpost_session=')) ?? '';
      expect(header).toMatch(/^__Host-sealpost_session=[A-Za-z0-9_-]{43}; /);
      return header.split('; ').slice(1).sort();
    };
    const member = await signInAs(app, clock, tenant, 'viewer', nextEmail('cookie'));
    const password = flags((await passwordLogin(app, member.email)).res);
    expect(password).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Lax', 'Secure']);
    const oidc = await oidcLogin(member.email, ['pwd']);
    expect(flags(oidc)).toEqual(password);
    expect(oidc.headers.get('cache-control')).toBe('no-store');
    expect(flags(await samlLogin(member.email))).toEqual(password);
  });
});
