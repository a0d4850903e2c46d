import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';
import { idpKeyPair, type IdpKeyPair } from './saml-test-idp.js';

const SECRET = 'oidc-client-secret-never-echoed';

describe.each(testDialects())('SSO admin API on %s', { timeout: 60_000 }, (dialect) => {
  let app: TestApp;
  let idpKey: IdpKeyPair;
  let a = { tenant: '', apiKey: '' };
  let b = { tenant: '', apiKey: '' };
  const txt = new Map<string, string[][]>();

  beforeAll(async () => {
    idpKey = await idpKeyPair('Admin test IdP');
    app = await startTestApp(dialect, { overrides: { publicUrl: 'https://sealpost.example.net', ssoTxtResolver: async (name) => txt.get(name) ?? [] } });
    a = await app.createTenant();
    b = await app.createTenant();
  });
  afterAll(async () => {
    await app?.close();
  });

  async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
    const res = await app.fetch(path, {
      method,
      token,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  const oidc = { issuer: 'https://login.example.com/realms/acme', client_id: 'sealpost', client_secret: SECRET };

  it('stores an OIDC setting and never answers with its client secret', async () => {
    const put = await call('PUT', '/v1/sso/oidc', a.apiKey, { ...oidc, mfa_amr: ['mfa', 'hwk'] });
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
    const got = await call('GET', '/v1/sso/oidc', a.apiKey);
    expect(got.json).toEqual(put.json);
    expect(put.text + got.text).not.toContain(SECRET);
    // Replacing without a secret keeps it.
    expect((await call('PUT', '/v1/sso/oidc', a.apiKey, { issuer: oidc.issuer, client_id: 'sealpost-2' })).status).toBe(200);
    expect((await app.context.sso.config.oidcSettings(a.tenant))?.settings.clientSecret).toBe(SECRET);
  });

  it("keeps each tenant's SSO setting to itself", async () => {
    expect((await call('GET', '/v1/sso/oidc', b.apiKey)).json).toMatchObject({ code: 'SP_ERR_SSO_NOT_CONFIGURED' });
    expect((await call('DELETE', '/v1/sso/oidc', b.apiKey)).status).toBe(404);
    expect((await call('GET', '/v1/sso/oidc', a.apiKey)).status).toBe(200);
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
      expect(await call('PUT', '/v1/sso/oidc', b.apiKey, body), JSON.stringify(body)).toMatchObject({ status: 400, json: { code } });
    }
    expect(await app.context.sso.config.oidcSettings(b.tenant)).toBeUndefined();
  });

  it('stores a SAML setting with parsed certificates, and refuses one that is not a certificate', async () => {
    const body = { idp_entity_id: 'https://idp.example.com', idp_sso_url: 'https://idp.example.com/sso', idp_certificates: [idpKey.certPem] };
    expect(await call('PUT', '/v1/sso/saml', b.apiKey, { ...body, idp_certificates: ['-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----'] })).toMatchObject({
      status: 400,
      json: { code: 'SP_ERR_SSO_CONFIG_INVALID' },
    });
    expect(await call('PUT', '/v1/sso/saml', b.apiKey, { ...body, idp_sso_url: 'http://idp.example.com/sso' })).toMatchObject({ status: 400 });
    const put = await call('PUT', '/v1/sso/saml', b.apiKey, body);
    expect(put).toMatchObject({
      status: 200,
      json: {
        idp_entity_id: 'https://idp.example.com',
        sp_entity_id: `https://sealpost.example.net/v1/auth/saml/${b.tenant}/metadata`,
        acs_url: `https://sealpost.example.net/v1/auth/saml/${b.tenant}/acs`,
        mfa_authn_contexts: [],
      },
    });
    expect((await call('GET', '/v1/sso/saml', b.apiKey)).json).toEqual(put.json);
    expect((await call('GET', '/v1/sso/saml', a.apiKey)).status).toBe(404);
    expect((await call('DELETE', '/v1/sso/saml', b.apiKey)).status).toBe(204);
    expect((await call('GET', '/v1/sso/saml', b.apiKey)).status).toBe(404);
  });

  it('verifies a domain by its DNS TXT record, for one tenant only', async () => {
    const added = await call('POST', '/v1/sso/domains', a.apiKey, { domain: 'Acme.example' });
    expect(added).toMatchObject({ status: 201, json: { domain: 'acme.example', verified: false, txt_name: '_sealpost-verify.acme.example', txt_value: expect.stringMatching(/^sealpost-verify=/) } });
    expect(await call('POST', '/v1/sso/domains/acme.example/verify', a.apiKey)).toMatchObject({ status: 422, json: { code: 'SP_ERR_SSO_DOMAIN_UNVERIFIED' } });
    txt.set('_sealpost-verify.acme.example', [[String(added.json.txt_value)]]);
    expect(await call('POST', '/v1/sso/domains/acme.example/verify', a.apiKey)).toMatchObject({ status: 200, json: { verified: true } });
    expect((await call('GET', '/v1/sso/domains', a.apiKey)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: true }] });

    const claimByB = await call('POST', '/v1/sso/domains', b.apiKey, { domain: 'acme.example' });
    expect(claimByB.status).toBe(201);
    expect(claimByB.json.txt_value).not.toBe(added.json.txt_value);
    txt.set('_sealpost-verify.acme.example', [[String(claimByB.json.txt_value)]]);
    expect(await call('POST', '/v1/sso/domains/acme.example/verify', b.apiKey)).toMatchObject({ status: 409, json: { code: 'SP_ERR_SSO_DOMAIN_TAKEN' } });
    expect((await call('GET', '/v1/sso/domains', b.apiKey)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: false }] });
    expect((await call('POST', '/v1/sso/domains/unclaimed.example/verify', b.apiKey)).status).toBe(404);
    expect(await call('POST', '/v1/sso/domains', b.apiKey, { domain: '10.0.0.1' })).toMatchObject({ status: 400, json: { code: 'SP_ERR_SSO_DOMAIN_INVALID' } });
    expect((await call('DELETE', '/v1/sso/domains/acme.example', b.apiKey)).status).toBe(204);
    expect((await call('GET', '/v1/sso/domains', a.apiKey)).json).toMatchObject({ data: [{ domain: 'acme.example', verified: true }] });
  });

  it('requires the keys:manage scope on every SSO admin route', async () => {
    const narrow = await call('POST', '/v1/api-keys', a.apiKey, { name: 'ingest only', scopes: ['payloads:write'] });
    const token = String(narrow.json.api_key);
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
      expect((await call(method, path, token, body)).json, `${method} ${path}`).toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_MISSING' });
      expect((await call(method, path, '', body)).status, `${method} ${path} without a key`).toBe(401);
    }
    expect((await call('GET', '/v1/sso/oidc', a.apiKey)).json).toMatchObject({ client_id: 'sealpost-2' });
  });

  it('records each change with the calling key as actor, never the secret', async () => {
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
    expect(events[0]).toMatchObject({ actor: { type: 'api_key', id: expect.any(String) }, details: { issuer: oidc.issuer, client_auth_changed: true, replaced: false } });
    expect(events[1]).toMatchObject({ details: { client_auth_changed: false, replaced: true } });
    expect(events[2]).toMatchObject({ details: { certificate_sha256: [expect.stringMatching(/^[0-9a-f]{64}$/)] } });
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });
});
