import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealpost, type Sealpost } from '../../../src/app/sealpost.js';
import type { AuditActor } from '../../../src/audit/audit-event.js';
import { loadConfig } from '../../../src/config/config.load.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../support/test-database.js';

const ADMIN: AuditActor = { type: 'api_key', id: 'test' };
const SECRET = 'client-secret-that-must-stay-sealed';

describe.each(testDialects())('SSO storage on %s', (dialect) => {
  let testDb: TestDatabase;
  let sealpost: Sealpost;
  /** TXT records the injected resolver answers, by name. */
  const txt = new Map<string, string[][]>();
  let tenantA = '';
  let tenantB = '';

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    const config = loadConfig({
      SEALPOST_DATA_DIR: path.join(testDb.dir, 'data'),
      SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
      SEALPOST_LOG_LEVEL: 'silent',
    });
    sealpost = await createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://sealpost.test', ssoTxtResolver: async (name) => txt.get(name) ?? [] });
    tenantA = (await sealpost.tenants.create('A', 'starter')).tenant.id;
    tenantB = (await sealpost.tenants.create('B', 'starter')).tenant.id;
  });
  afterAll(async () => {
    await sealpost?.close();
    await testDb?.dispose();
  });

  it('seals the OIDC client secret: no column holds it', async () => {
    await sealpost.sso.config.putOidc(tenantA, { issuer: 'https://idp.example.com', clientId: 'sealpost', clientSecret: SECRET }, ADMIN);
    const rows = await sealpost.database.db.selectFrom('sso_oidc_configs').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(Buffer.from(rows[0]!.settings_sealed).includes(Buffer.from(SECRET))).toBe(false);
    expect(Buffer.from(rows[0]!.settings_sealed).includes(Buffer.from('idp.example.com'))).toBe(false);
    expect((await sealpost.sso.config.oidcSettings(tenantA))?.settings.clientSecret).toBe(SECRET);
    expect(await sealpost.sso.config.getOidc(tenantA)).not.toHaveProperty('clientSecret');
  });

  it("refuses a tenant's SSO setting copied into another tenant's row", async () => {
    const { db } = sealpost.database;
    const sealed = (await db.selectFrom('sso_oidc_configs').select('settings_sealed').where('tenant_id', '=', tenantA).executeTakeFirstOrThrow()).settings_sealed;
    await db.insertInto('sso_oidc_configs').values({ tenant_id: tenantB, settings_sealed: sealed, created_at: 1, updated_at: 1 }).execute();
    await expect(sealpost.sso.config.oidcSettings(tenantB)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
    await db.deleteFrom('sso_oidc_configs').where('tenant_id', '=', tenantB).execute();
  });

  it('keeps the stored client secret when a replacement omits it, and requires one for a new setting', async () => {
    await sealpost.sso.config.putOidc(tenantA, { issuer: 'https://idp.example.com/realm', clientId: 'sealpost-2', mfaAmr: ['mfa'] }, ADMIN);
    const stored = await sealpost.sso.config.oidcSettings(tenantA);
    expect(stored?.settings).toMatchObject({ issuer: 'https://idp.example.com/realm', clientId: 'sealpost-2', clientSecret: SECRET, mfaAmr: ['mfa'], scopes: ['openid', 'email', 'profile'] });
    await expect(sealpost.sso.config.putOidc(tenantB, { issuer: 'https://idp.example.com', clientId: 'x' }, ADMIN)).rejects.toMatchObject({ code: 'SP_ERR_SSO_CONFIG_INVALID' });
    await expect(sealpost.sso.config.putOidc(tenantB, { issuer: 'http://idp.example.com', clientId: 'x', clientSecret: 's' }, ADMIN)).rejects.toMatchObject({ code: 'SP_ERR_SSO_CONFIG_INVALID' });
    expect(await sealpost.sso.config.oidcSettings(tenantB)).toBeUndefined();
  });

  it('verifies a domain only when its TXT record carries the token', async () => {
    const claim = await sealpost.sso.config.addDomain(tenantA, 'Example.COM.', ADMIN);
    expect(claim).toMatchObject({ domain: 'example.com', verifiedAt: null, verificationToken: expect.stringMatching(/^sealpost-verify=[A-Za-z0-9_-]{22}$/) });
    expect(await sealpost.sso.config.isDomainVerified(tenantA, 'example.com')).toBe(false);
    txt.set('_sealpost-verify.example.com', [['sealpost-verify=somebody-elses-token']]);
    await expect(sealpost.sso.config.verifyDomain(tenantA, 'example.com', ADMIN)).rejects.toMatchObject({ code: 'SP_ERR_SSO_DOMAIN_UNVERIFIED' });
    expect(await sealpost.sso.config.isDomainVerified(tenantA, 'example.com')).toBe(false);
    // Long TXT values arrive split into character strings; they are joined.
    const token = claim.verificationToken;
    txt.set('_sealpost-verify.example.com', [['v=spf1 -all'], [token.slice(0, 10), token.slice(10)]]);
    expect((await sealpost.sso.config.verifyDomain(tenantA, 'example.com', ADMIN)).verifiedAt).toEqual(expect.any(Number));
    expect(await sealpost.sso.config.isDomainVerified(tenantA, 'example.com')).toBe(true);
    expect(await sealpost.sso.config.isDomainVerified(tenantB, 'example.com')).toBe(false);
  });

  it('verifies a domain for one tenant only', async () => {
    const claim = await sealpost.sso.config.addDomain(tenantB, 'example.com', ADMIN);
    // Even with B's own token published, the domain stays A's.
    txt.set('_sealpost-verify.example.com', [[claim.verificationToken]]);
    await expect(sealpost.sso.config.verifyDomain(tenantB, 'example.com', ADMIN)).rejects.toMatchObject({ code: 'SP_ERR_SSO_DOMAIN_TAKEN' });
    expect(await sealpost.sso.config.isDomainVerified(tenantB, 'example.com')).toBe(false);
  });

  it('refuses domains that are not host names', async () => {
    for (const bad of ['localhost', '127.0.0.1', 'exa mple.com', '-x.example.com', 'example.123', `${'a'.repeat(64)}.com`, 'bücher.de']) {
      await expect(sealpost.sso.config.addDomain(tenantA, bad, ADMIN), bad).rejects.toMatchObject({ code: 'SP_ERR_SSO_DOMAIN_INVALID' });
    }
  });

  it('hands out a login state once, sealed at rest', async () => {
    const now = Date.now();
    await sealpost.sso.loginStates.insert('a'.repeat(64), { tenantId: tenantA, protocol: 'oidc', browserSha256: 'b'.repeat(64), secrets: { nonce: 'n0nce', codeVerifier: 'verifier-value' }, expiresAt: now + 600_000 }, now);
    const row = await sealpost.database.db.selectFrom('sso_login_states').select('secrets_sealed').executeTakeFirstOrThrow();
    expect(Buffer.from(row.secrets_sealed).includes(Buffer.from('verifier-value'))).toBe(false);
    expect(await sealpost.sso.loginStates.take('a'.repeat(64))).toMatchObject({ tenantId: tenantA, secrets: { nonce: 'n0nce', codeVerifier: 'verifier-value' } });
    expect(await sealpost.sso.loginStates.take('a'.repeat(64))).toBeUndefined();
  });

  it('accepts a SAML assertion id once per tenant until it expires', async () => {
    const now = Date.now();
    expect(await sealpost.sso.loginStates.rememberAssertion(tenantA, '_abc', now + 60_000, now)).toBe(true);
    expect(await sealpost.sso.loginStates.rememberAssertion(tenantA, '_abc', now + 60_000, now)).toBe(false);
    expect(await sealpost.sso.loginStates.rememberAssertion(tenantB, '_abc', now + 60_000, now)).toBe(true);
  });

  it('records every setting change in the audit log, without the secret', async () => {
    await sealpost.sso.config.deleteOidc(tenantA, ADMIN);
    await sealpost.sso.config.removeDomain(tenantB, 'example.com', ADMIN);
    const events = await sealpost.database.db.selectFrom('audit_events').select(['action', 'event']).where('action', 'like', 'sso.%').orderBy('log_index').execute();
    expect(events.map((e) => e.action)).toEqual(['sso.oidc_configured', 'sso.oidc_configured', 'sso.domain_added', 'sso.domain_verified', 'sso.domain_added', 'sso.oidc_removed', 'sso.domain_removed']);
    expect(events.map((e) => e.event).join('\n')).not.toContain(SECRET);
  });
});
