import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyReply } from 'fastify';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import type { VerifiedSsoIdentity } from '../../../src/identity/sso/sso-sign-in.port.js';
import { SAML_CLOCK_SKEW_MS } from '../../../src/identity/sso/saml-login.service.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';
import { PUBLIC_URL } from './sso-browser.js';
import { encodeResponse, idpKeyPair, samlResponseXml, signAssertion, signResponse, type AssertionOptions, type IdpKeyPair } from './saml-test-idp.js';

const ADMIN = { type: 'api_key', id: 'test' } as const;
const IDP_ENTITY_ID = 'https://idp.example.com/saml';
const MFA_CONTEXT = 'https://refeds.org/profile/mfa';
const MINUTE = 60_000;

describe.each(testDialects())('SAML login on %s', { timeout: 60_000 }, (dialect) => {
  let app: TestApp;
  let idpKey: IdpKeyPair;
  let otherKey: IdpKeyPair;
  let tenant = '';
  let acsUrl = '';
  let spEntityId = '';
  const signedIn: VerifiedSsoIdentity[] = [];
  const txt = new Map<string, string[][]>();
  let minutesAhead = 0;

  beforeAll(async () => {
    [idpKey, otherKey] = await Promise.all([idpKeyPair('Test IdP'), idpKeyPair('Impostor')]);
    app = await startTestApp(dialect, {
      // Each test starts a new minute of the refusal counter, so its refusals are stored one by one.
      api: { now: () => Date.now() + minutesAhead * 60_000 },
      overrides: {
        ssoTxtResolver: async (name) => txt.get(name) ?? [],
        ssoSignIn: {
          async complete(identity: VerifiedSsoIdentity, reply: FastifyReply) {
            signedIn.push(identity);
            return reply.code(200).send({ signed_in: identity.email });
          },
        },
      },
    });
    tenant = (await app.createTenant()).tenant;
    acsUrl = `${PUBLIC_URL}/v1/auth/saml/${tenant}/acs`;
    const sso = app.context.sso.config;
    const saved = await sso.putSaml(tenant, { idpEntityId: IDP_ENTITY_ID, idpSsoUrl: 'https://idp.example.com/sso', idpCertificates: [idpKey.certPem], mfaAuthnContexts: [MFA_CONTEXT] }, ADMIN);
    spEntityId = saved.spEntityId;
    const claim = await sso.addDomain(tenant, 'example.com', ADMIN);
    txt.set('_sealpost-verify.example.com', [[claim.verificationToken]]);
    await sso.verifyDomain(tenant, 'example.com', ADMIN);
  });
  afterAll(async () => {
    await app?.close();
  });
  beforeEach(() => {
    minutesAhead += 1;
    signedIn.length = 0;
  });

  function assertion(overrides: Partial<AssertionOptions> = {}): string {
    const now = Date.now();
    return samlResponseXml({
      issuer: IDP_ENTITY_ID,
      audience: spEntityId,
      recipient: acsUrl,
      destination: acsUrl,
      email: 'grace@example.com',
      notBefore: new Date(now - MINUTE),
      notOnOrAfter: new Date(now + 5 * MINUTE),
      ...overrides,
    });
  }

  async function post(xml: string, target = tenant): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await app.fetch(`/v1/auth/saml/${target}/acs`, { method: 'POST', body: new URLSearchParams({ SAMLResponse: encodeResponse(xml), RelayState: 'x' }) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function lastRefusal(): Promise<AuditEvent | undefined> {
    const row = await app.context.database.db.selectFrom('audit_events').select('event').where('action', '=', 'sso.login_refused').orderBy('log_index', 'desc').executeTakeFirst();
    return row?.event ? (JSON.parse(row.event) as AuditEvent) : undefined;
  }

  async function expectRefused(xml: string, reason: string): Promise<void> {
    expect(await post(xml)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED', detail: 'SSO login refused' } });
    expect(await lastRefusal()).toMatchObject({ tenant, details: { protocol: 'saml', reason } });
    expect(signedIn).toEqual([]);
  }

  it('publishes SP metadata with our entity id, ACS URL and signed assertions wanted', async () => {
    const res = await app.fetch(`/v1/auth/saml/${tenant}/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/samlmetadata\+xml/);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${spEntityId}"`);
    expect(xml).toContain(`Location="${acsUrl}"`);
    expect(xml).toContain('WantAssertionsSigned="true"');
  });

  it('signs in with a valid signed assertion; no MFA unless its AuthnContextClassRef is one the tenant names', async () => {
    expect(await post(signAssertion(assertion(), idpKey))).toEqual({ status: 200, body: { signed_in: 'grace@example.com' } });
    expect(await post(signAssertion(assertion({ authnContextClassRef: MFA_CONTEXT }), idpKey))).toMatchObject({ status: 200 });
    expect(signedIn).toEqual([
      { tenantId: tenant, email: 'grace@example.com', subject: 'grace@example.com', provider: 'saml', mfaAsserted: false },
      { tenantId: tenant, email: 'grace@example.com', subject: 'grace@example.com', provider: 'saml', mfaAsserted: true },
    ]);
  });

  it('refuses an unsigned assertion', async () => {
    await expectRefused(assertion(), 'invalid or missing signature');
  });

  it('refuses a signed response whose assertion is not signed itself', async () => {
    await expectRefused(signResponse(assertion(), idpKey), 'invalid or missing signature');
  });

  it('refuses an assertion re-signed with another key', async () => {
    await expectRefused(signAssertion(assertion(), otherKey), 'invalid or missing signature');
  });

  it('refuses an assertion altered after signing', async () => {
    const signed = signAssertion(assertion({ email: 'grace@example.com' }), idpKey);
    await expectRefused(signed.replace('>grace@example.com<', '>mallory@example.com<'), 'invalid or missing signature');
  });

  it('refuses an assertion signed with SHA-1', async () => {
    await expectRefused(signAssertion(assertion(), idpKey, 'sha1'), 'SHA-1 or no signature algorithm');
  });

  it('refuses a replayed assertion', async () => {
    const signed = signAssertion(assertion(), idpKey);
    expect((await post(signed)).status).toBe(200);
    signedIn.length = 0;
    await expectRefused(signed, 'replayed assertion');
  });

  it('refuses an assertion for another audience', async () => {
    await expectRefused(signAssertion(assertion({ audience: 'https://other-sp.example.com' }), idpKey), 'wrong audience');
  });

  it('refuses an assertion for another recipient', async () => {
    await expectRefused(signAssertion(assertion({ recipient: 'https://other-sp.example.com/acs' }), idpKey), 'wrong recipient');
  });

  it('refuses a response for another destination', async () => {
    await expectRefused(signAssertion(assertion({ destination: 'https://other-sp.example.com/acs' }), idpKey), 'wrong destination');
  });

  it('refuses an assertion from an issuer other than the tenant IdP, even signed with its key', async () => {
    await expectRefused(signAssertion(assertion({ issuer: 'https://evil.example.com/saml' }), idpKey), 'assertion from another issuer');
  });

  it('refuses an expired assertion (beyond the clock skew)', async () => {
    const past = Date.now() - SAML_CLOCK_SKEW_MS - MINUTE;
    await expectRefused(signAssertion(assertion({ notBefore: new Date(past - 5 * MINUTE), notOnOrAfter: new Date(past) }), idpKey), 'expired assertion');
  });

  it('refuses an assertion not valid yet (beyond the clock skew)', async () => {
    const future = Date.now() + SAML_CLOCK_SKEW_MS + MINUTE;
    await expectRefused(signAssertion(assertion({ notBefore: new Date(future), notOnOrAfter: new Date(future + 5 * MINUTE) }), idpKey), 'assertion not yet valid');
  });

  it("refuses an assertion for another tenant's ACS", async () => {
    const other = (await app.createTenant()).tenant;
    await app.context.sso.config.putSaml(other, { idpEntityId: IDP_ENTITY_ID, idpSsoUrl: 'https://idp.example.com/sso', idpCertificates: [idpKey.certPem] }, ADMIN);
    expect(await post(signAssertion(assertion(), idpKey), other)).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
    expect(signedIn).toEqual([]);
  });

  it('refuses an assertion that names no subject', async () => {
    await expectRefused(signAssertion(assertion({ omitNameId: true }), idpKey), 'assertion without NameID');
  });

  it('refuses an e-mail whose domain the tenant has not verified', async () => {
    expect(await post(signAssertion(assertion({ email: 'eve@elsewhere.example' }), idpKey))).toMatchObject({ status: 403, body: { code: 'SP_ERR_SSO_EMAIL_REFUSED' } });
    expect(signedIn).toEqual([]);
  });

  it('answers 404 for a tenant without SAML, and 400 for a body that is not a SAML form', async () => {
    const bare = (await app.createTenant()).tenant;
    expect((await post(signAssertion(assertion(), idpKey), bare)).status).toBe(404);
    expect((await app.fetch(`/v1/auth/saml/${bare}/metadata`)).status).toBe(404);
    const json = await app.fetch(`/v1/auth/saml/${tenant}/acs`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'nothing=here' });
    expect(json.status).toBe(400);
    const garbage = await post('<not-saml/>');
    expect(garbage).toMatchObject({ status: 401, body: { code: 'SP_ERR_SSO_LOGIN_REFUSED' } });
  });
});
