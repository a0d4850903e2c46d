import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { asOperator, signInAs, TestClock, type SignedInOperator } from '../../support/operators.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';
import { idpKeyPair, type IdpKeyPair } from './saml-test-idp.js';

const SECRET = 'oidc-client-secret-never-echoed';

describe.each(testDialects())('SSO admin API on %s', { timeout: 60_000 }, (dialect) => {
  let app: TestApp;
  let idpKey: IdpKeyPair;
  let a = { tenant: '', apiKey: '' };
  let b = { tenant: '', apiKey: '' };
  /** SSO settings are a security policy: their owners (sessions) administer them. */
  let ownerA: SignedInOperator;
  let ownerB: SignedInOperator;
  const clock = new TestClock();
  const txt = new Map<string, string[][]>();

  beforeAll(async () => {
    idpKey = await idpKeyPair('Admin test IdP');
    app = await startTestApp(dialect, { overrides: { publicUrl: 'https://sealpost.example.net', ssoTxtResolver: async (name) => txt.get(name) ?? [], identityClock: clock.now } });
    a = await app.createTenant();
    b = await app.createTenant();
    ownerA = await signInAs(app, clock, a.tenant, 'owner');
    ownerB = await signInAs(app, clock, b.tenant, 'owner');
  });
  afterAll(async () => {
    await app?.close();
  });

  /** Calls with an API key (a string; '' for none) or an operator session. */
  async function call(method: string, path: string, as: string | SignedInOperator, body?: unknown): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
    const type: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    const res = await app.fetch(path, {
      method,
      ...(typeof as === 'string' ? { token: as, headers: type } : { headers: asOperator(as, type) }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  const oidc = { issuer: 'https://login.example.com/realms/acme', client_id: 'sealpost', client_secret: SECRET };

  it('stores an OIDC setting and never answers with its client secret', async () => {
    const put = await call('PUT', '/v1/sso/oidc', ownerA, { ...oidc, mfa_amr: ['mfa', 'hwk'] });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      issuer: oidc.issuer,
      client_id: 'sealpost',
      client_secret_set: true,
      scopes: ['openid', 'email', 'profile'],
      mfa_amr: ['mfa', 'hwk'],
      mfa_acr: [],
      redirect_uri: `https://sealpost.example.net/v1/auth/oidc/${a.tenant}/callback`,
    });
    const got = await call('GET', '/v1/sso/oidc', ownerA);
    expect(got.json).toEqual(put.json);
    expect(put.text + got.text).not.toContain(SECRET);
    // Replacing without a secret keeps it.
    expect((await call('PUT', '/v1/sso/oidc', ownerA, { issuer: oidc.issuer, client_id: 'sealpost-2' })).status).toBe(200);
    expect((await app.context.sso.config.oidcSettings(a.tenant))?.settings.clientSecret).toBe(SECRET);
  });

  it("keeps each tenant's SSO setting to itself", async () => {
    expect((await call('GET', '/v1/sso/oidc', ownerB)).json).toMatchObject({ code: 'SP_ERR_SSO_NOT_CONFIGURED' });
    expect((await call('DELETE', '/v1/sso/oidc', ownerB)).status).toBe(404);
    expect((await call('GET', '/v1/sso/oidc', ownerA)).status).toBe(200);
  });

  it('refuses an OIDC setting that is not safe, and stores nothing', async () => {
    for (const [body, code] of [
      [{ ...oidc, issuer: 'http://login.example.com' }, 'SP_ERR_SSO_CONFIG_INVALID'],
      [{ ...oidc, issuer: 'https://user:pw@login.example.com' }, 'SP_ERR_SSO_CONFIG_INVALID'],
      [{ ...oidc, issuer: 'not a url' }, 'SP_ERR_SSO_CONFIG_INVALID'],
      [{ issuer: oidc.issuer, client_id: 'x' }, 'SP_ERR_SSO_CONFIG_INVALID'],
      [{ ...oidc, scopes: ['openid email'] }, 'SP_ERR_HTTP_BAD_REQUEST'],
      [{ ...oidc, mfa_amr: ['x'.repeat(17)] }, 'SP_ERR_HTTP_BAD_REQUEST'],
    ] as const) {
      expect(await call('PUT', '/v1/sso/oidc', ownerB, body), JSON.stringify(body)).toMatchObject({ status: 400, json: { code } });
    }
    expect(await app.context.sso.config.oidcSettings(b.tenant)).toBeUndefined();
  });

  it('stores a SAML setting with parsed certificates, and refuses one that is not a certificate', async () => {
    const body = { idp_entity_id: 'https://idp.example.com', idp_sso_url: 'https://idp.example.com/sso', idp_certificates: [idpKey.certPem] };
    expect(await call('PUT', '/v1/sso/saml', ownerB, { ...body, idp_certificates: ['-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----'] })).toMatchObject({
      status: 400,
      json: { code: 'SP_ERR_SSO_CONFIG_INVALID' },
    });
    expect(await call('PUT', '/v1/sso/saml', ownerB, { ...body, idp_sso_url: 'http://idp.example.com/sso' })).toMatchObject({ status: 400 });
    const put = await call('PUT', '/v1/sso/saml', ownerB, body);
    expect(put).toMatchObject({
      status: 200,
      json: {
        idp_entity_id: 'https://idp.example.com',
        sp_entity_id: `https://sealpost.example.net/v1/auth/saml/${b.tenant}/metadata`,
        acs_url: `https://sealpost.example.net/v1/auth/saml/${b.tenant}/acs`,
        mfa_authn_contexts: [],
      },
    });
    expect((await call('GET', '/v1/sso/saml', ownerB)).json).toEqual(put.json);
    expect((await call('GET', '/v1/sso/saml', ownerA)).status).toBe(404);
    expect((await call('DELETE', '/v1/sso/saml', ownerB)).status).toBe(204);
    expect((await call('GET', '/v1/sso/saml', ownerB)).status).toBe(404);
  });

  it('verifies a domain by its DNS TXT record, for one tenant only', async () => {
    const added = await call('POST', '/v1/sso/domains', ownerA, { domain: 'Acme.example' });
    expect(added).toMatchObject({ status: 201, json: { domain: 'acme.example', verified: false, txt_name: '_sealpost-verify.acme.example', txt_value: expect.stringMatching(/^sealpost-verify=/) } });
    expect(await call('POST', '/v1/sso/domains/acme.example/verify', ownerA)).toMatchObject({ status: 422, json: { code: 'SP_ERR_SSO_DOMAIN_UNVERIFIED' } });
    txt.set('_sealpost-verify.acme.example', [[String(added.json.txt_value)]]);
    expect(await call('POST', '/v1/sso/domains/acme.example/verify', ownerA)).toMatchObject({ status: 200, json: { verified: true } });
    expect((await call('GET', '/v1/sso/domains', ownerA)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: true }] });

    const claimByB = await call('POST', '/v1/sso/domains', ownerB, { domain: 'acme.example' });
    expect(claimByB.status).toBe(201);
    expect(claimByB.json.txt_value).not.toBe(added.json.txt_value);
    txt.set('_sealpost-verify.acme.example', [[String(claimByB.json.txt_value)]]);
    expect(await call('POST', '/v1/sso/domains/acme.example/verify', ownerB)).toMatchObject({ status: 409, json: { code: 'SP_ERR_SSO_DOMAIN_TAKEN' } });
    expect((await call('GET', '/v1/sso/domains', ownerB)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: false }] });
    expect((await call('POST', '/v1/sso/domains/unclaimed.example/verify', ownerB)).status).toBe(404);
    expect(await call('POST', '/v1/sso/domains', ownerB, { domain: '10.0.0.1' })).toMatchObject({ status: 400, json: { code: 'SP_ERR_SSO_DOMAIN_INVALID' } });
    expect((await call('DELETE', '/v1/sso/domains/acme.example', ownerB)).status).toBe(204);
    expect((await call('GET', '/v1/sso/domains', ownerA)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: true }] });
  });

  it('leaves SSO settings to owners: refuses every API key, and changes by admins', async () => {
    // Even a key holding every scope: no scope grants policy management (SSO decides who signs in).
    const full = await call('POST', '/v1/api-keys', a.apiKey, { name: 'all scopes', scopes: ['payloads:write', 'payloads:read', 'destinations:manage', 'keys:manage', 'audit:read'] });
    expect(full.status).toBe(201);
    const admin = await signInAs(app, clock, a.tenant, 'admin');
    const viewer = await signInAs(app, clock, a.tenant, 'viewer');
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/sso/oidc'],
      ['PUT', '/v1/sso/oidc', oidc],
      ['DELETE', '/v1/sso/oidc'],
      ['GET', '/v1/sso/saml'],
      ['PUT', '/v1/sso/saml', { idp_entity_id: 'x', idp_sso_url: 'https://x.example', idp_certificates: [idpKey.certPem] }],
      ['DELETE', '/v1/sso/saml'],
      ['GET', '/v1/sso/domains'],
      ['POST', '/v1/sso/domains', { domain: 'x.example' }],
      ['POST', '/v1/sso/domains/acme.example/verify'],
      ['DELETE', '/v1/sso/domains/acme.example'],
    ];
    for (const [method, path, body] of routes) {
      for (const [who, as] of [['a key with every scope', String(full.json.api_key)], ['the tenant key', a.apiKey]] as const) {
        expect((await call(method, path, as, body)).json, `${method} ${path} by ${who}`).toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_MISSING' });
      }
      expect((await call(method, path, '', body)).status, `${method} ${path} without credentials`).toBe(401);
      if (method === 'GET') {
        // Reading the settings is reading the policy (viewers may; no secret is ever shown).
        expect((await call(method, path, viewer)).status, `${method} ${path} by a viewer`).toBeLessThan(500);
        expect((await call(method, path, viewer)).json, `${method} ${path} by a viewer`).not.toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_MISSING' });
      } else {
        for (const [who, as] of [['an admin', admin], ['a viewer', viewer]] as const) {
          expect((await call(method, path, as, body)).json, `${method} ${path} by ${who}`).toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_MISSING' });
        }
      }
    }
    expect((await call('GET', '/v1/sso/oidc', ownerA)).json).toMatchObject({ client_id: 'sealpost-2' });
    expect((await call('GET', '/v1/sso/domains', ownerA)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: true }] });
  });

  it('records each change with the owner who made it as actor, never the secret', async () => {
    const rows = await app.context.database.db.selectFrom('audit_events').select('event').where('action', 'like', 'sso.%').orderBy('log_index').execute();
    const events = rows.map((r) => JSON.parse(r.event ?? '{}') as AuditEvent);
    expect(events.map((e) => [e.tenant === a.tenant ? 'a' : 'b', e.action])).toEqual([
      ['a', 'sso.oidc_configured'],
      ['a', 'sso.oidc_configured'],
      ['b', 'sso.saml_configured'],
      ['b', 'sso.saml_removed'],
      ['a', 'sso.domain_added'],
      ['a', 'sso.domain_verified'],
      ['b', 'sso.domain_added'],
      ['b', 'sso.domain_removed'],
    ]);
    expect(events.every((e) => e.actor.type === 'operator' && e.actor.id === (e.tenant === a.tenant ? ownerA : ownerB).operatorId)).toBe(true);
    expect(events[0]).toMatchObject({ actor: { type: 'operator', id: ownerA.operatorId }, details: { issuer: oidc.issuer, client_auth_changed: true, replaced: false } });
    expect(events[1]).toMatchObject({ details: { client_auth_changed: false, replaced: true } });
    expect(events[2]).toMatchObject({ details: { certificate_sha256: [expect.stringMatching(/^[0-9a-f]{64}$/)] } });
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });
});
