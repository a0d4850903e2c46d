import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noBrowser, saveScreenshot } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT_MS, DESKTOP, PHONE, expectAccessible, guardPage, operatorWithTotp, signInWithTotp, startConsoleApp, type ConsoleApp } from '../support/console-app.js';
import { idpKeyPair } from '../identity/sso/saml-test-idp.js';

const ISSUER = 'https://idp.acme.example'; // saving OIDC contacts no one: the issuer is only read at sign-in
const ADMIN = { type: 'system', id: 'test' } as const;

describe.skipIf(noBrowser())('console single sign-on page (Chromium)', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let c: ConsoleApp;
  // The DNS the domain verification reads: name → TXT records.
  const txt = new Map<string, string[][]>();

  beforeAll(async () => {
    c = await startConsoleApp({}, { ssoTxtResolver: async (name) => txt.get(name) ?? [] });
  });
  afterAll(async () => {
    await c?.close();
  });

  const sso = () => c.app.context.sso.config;

  async function signedIn(tenant: string, role: 'viewer' | 'owner', viewport = DESKTOP): Promise<Page> {
    const operator = await operatorWithTotp(c, tenant, role);
    const page = await (await c.newContext(viewport)).newPage();
    page.setDefaultTimeout(10_000);
    await signInWithTotp(page, c, operator);
    return page;
  }

  async function openSso(page: Page): Promise<void> {
    await page.goto('/console/sso');
    await page.getByRole('heading', { name: 'Single sign-on', exact: true, level: 1 }).waitFor();
    await page.getByText('Loading…').first().waitFor({ state: 'detached' });
  }

  it('an owner sets up OpenID Connect; the client secret is never shown back and an empty field keeps it', async () => {
    const { tenant } = await c.app.createTenant('operation');
    const page = await signedIn(tenant, 'owner');
    const guard = guardPage(page, c.origin);
    await openSso(page);
    const form = page.getByRole('form', { name: 'OpenID Connect' });
    const secret = `cs-${randomBytes(16).toString('hex')}`;
    await form.getByLabel('Issuer').fill(ISSUER);
    await form.getByLabel('Client ID').fill('sealpost-console');
    await form.getByLabel('Client secret').fill(secret);
    await form.getByLabel('acr values that count as MFA (mfa_acr)').fill('phr  phrh');
    await form.getByRole('button', { name: 'Save OpenID Connect' }).click();
    await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();

    const redirectUri = `${c.origin}/v1/auth/oidc/${tenant}/callback`;
    await page.getByText(redirectUri, { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Copy redirect URI' }).waitFor();
    expect(await form.getByLabel('Client secret').inputValue()).toBe('');
    await form.getByText('A secret is set').waitFor();
    const stored = await sso().oidcSettings(tenant);
    expect(stored?.settings).toMatchObject({ issuer: ISSUER, clientId: 'sealpost-console', clientSecret: secret, mfaAmr: ['mfa', 'hwk', 'otp'], mfaAcr: ['phr', 'phrh'] });
    expect(await page.content()).not.toContain(secret);

    // A change without a new secret keeps the stored one; the page never learns it.
    await page.reload();
    await page.getByText(redirectUri, { exact: true }).waitFor();
    expect(await form.getByLabel('Client ID').inputValue()).toBe('sealpost-console');
    await form.getByLabel('Client ID').fill('sealpost-console-2');
    await form.getByRole('button', { name: 'Save OpenID Connect' }).click();
    await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect((await sso().oidcSettings(tenant))?.settings).toMatchObject({ clientId: 'sealpost-console-2', clientSecret: secret, mfaAcr: ['phr', 'phrh'], scopes: ['openid', 'email', 'profile'] });
    expect(await page.content()).not.toContain(secret);
    expect(await page.evaluate('JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])')).toBe('[[],[]]');
    await expectAccessible(page, 'sso with oidc set up');
    await saveScreenshot(page, 'console-sso-oidc-desktop');

    await form.getByRole('button', { name: 'Remove OpenID Connect' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove OpenID Connect?' });
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await page.getByText('Not set up: members cannot sign in with OpenID Connect.').waitFor();
    expect(await sso().oidcSettings(tenant)).toBeUndefined();
    expect(guard.dialogs).toEqual([]);
    expect(guard.strayRequests).toEqual([]);
  });

  it('an owner adds a domain, sees the exact TXT record to create, verifies it once published and removes it', async () => {
    const { tenant } = await c.app.createTenant('operation');
    const page = await signedIn(tenant, 'owner');
    await openSso(page);
    await page.getByRole('form', { name: 'Add a domain' }).getByLabel('Domain').fill('acme-console.example');
    await page.getByRole('button', { name: 'Add domain' }).click();
    const card = page.getByRole('list', { name: 'SSO domains' }).getByRole('listitem').filter({ hasText: 'acme-console.example' });
    await card.getByText('not verified').waitFor();
    const [claim] = await sso().listDomains(tenant);
    expect(claim?.verificationToken).toMatch(/\S{20,}/);
    await card.getByText('_sealpost-verify.acme-console.example', { exact: true }).waitFor();
    await card.getByText(claim!.verificationToken, { exact: true }).waitFor();
    await card.getByRole('button', { name: 'Copy TXT value' }).waitFor();
    await saveScreenshot(page, 'console-sso-domain-added-desktop');

    // Not published yet: the refusal is shown, with its code.
    await card.getByRole('button', { name: 'Verify now' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'SP_ERR_SSO_DOMAIN_UNVERIFIED' });
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('_sealpost-verify.acme-console.example');

    txt.set('_sealpost-verify.acme-console.example', [[claim!.verificationToken]]);
    await card.getByRole('button', { name: 'Verify now' }).click();
    await card.getByText(/^verified /).waitFor();
    expect(await refusal.count()).toBe(0);
    expect(await card.getByText(claim!.verificationToken).count()).toBe(0);

    await card.getByRole('button', { name: 'Remove domain' }).click();
    await page.getByRole('dialog', { name: 'Remove acme-console.example?' }).getByRole('button', { name: 'Remove' }).click();
    await page.getByText('No domains yet.').waitFor();
    expect(await sso().listDomains(tenant)).toEqual([]);
  });

  it('an owner sets up SAML and gets the values for the IdP; a bad certificate is refused next to the form with nothing saved', async () => {
    const { tenant } = await c.app.createTenant('operation');
    const idp = await idpKeyPair('console-idp');
    const page = await signedIn(tenant, 'owner');
    await openSso(page);
    const form = page.getByRole('form', { name: 'SAML' });
    await form.getByLabel('IdP entity id').fill('https://idp.acme.example/saml');
    await form.getByLabel('IdP SSO URL').fill('https://idp.acme.example/saml/sso');
    await form.getByLabel('IdP certificates (PEM)').fill('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----');
    await form.getByRole('button', { name: 'Save SAML' }).click();
    const refusal = form.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('SP_ERR_SSO_CONFIG_INVALID');
    expect(await sso().samlSettings(tenant)).toBeUndefined();
    await expectAccessible(page, 'sso with a refused saml setting');
    await saveScreenshot(page, 'console-sso-saml-refused-desktop');

    await form.getByLabel('IdP certificates (PEM)').fill(idp.certPem);
    await form.getByLabel('AuthnContextClassRef values that count as MFA').fill('https://refeds.org/profile/mfa');
    await form.getByRole('button', { name: 'Save SAML' }).click();
    await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await refusal.count()).toBe(0);
    const metadataUrl = `${c.origin}/v1/auth/saml/${tenant}/metadata`;
    await page.getByText(`${c.origin}/v1/auth/saml/${tenant}/acs`, { exact: true }).waitFor();
    expect(await page.getByText(metadataUrl, { exact: true }).count()).toBe(2); // the default SP entity id is the metadata URL
    await page.getByRole('button', { name: 'Copy metadata URL' }).waitFor();
    expect((await page.request.get(metadataUrl)).status()).toBe(200);
    expect((await sso().samlSettings(tenant))?.settings).toMatchObject({ idpEntityId: 'https://idp.acme.example/saml', idpCertificates: [idp.certPem.trim()], mfaAuthnContexts: ['https://refeds.org/profile/mfa'] });

    await form.getByRole('button', { name: 'Remove SAML' }).click();
    await page.getByRole('dialog', { name: 'Remove SAML?' }).getByRole('button', { name: 'Remove' }).click();
    await page.getByText('Not set up: members cannot sign in with SAML.').waitFor();
    expect(await sso().samlSettings(tenant)).toBeUndefined();
  });

  it('shows a viewer SSO read-only, and the API refuses a change from the viewer\'s session', async () => {
    const { tenant } = await c.app.createTenant('operation');
    await sso().putOidc(tenant, { issuer: ISSUER, clientId: 'viewer-sees-this', clientSecret: 'kept-secret-of-the-owner' }, ADMIN);
    await sso().addDomain(tenant, 'viewer.example', ADMIN);
    const page = await signedIn(tenant, 'viewer');
    // The policy page's MFA note leads here.
    await page.goto('/console/policies');
    await page.getByRole('link', { name: 'Single sign-on' }).click();
    await page.getByRole('heading', { name: 'Single sign-on', level: 1 }).waitFor();
    await page.getByText('Loading…').first().waitFor({ state: 'detached' });
    await page.getByText('Only owners change SSO').waitFor();
    const form = page.getByRole('form', { name: 'OpenID Connect' });
    expect(await form.getByLabel('Client ID').inputValue()).toBe('viewer-sees-this');
    for (const field of await page.locator('main input, main textarea').all()) expect(await field.isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: /^(Save|Remove|Add|Verify)/ }).count()).toBe(0);
    expect(await page.content()).not.toContain('kept-secret-of-the-owner');
    await expectAccessible(page, 'sso read-only');
    await saveScreenshot(page, 'console-sso-viewer-desktop');

    // Whatever the page shows, the API refuses the session (with its valid CSRF token).
    const answer = (await page.evaluate(`(async () => {
      const session = await (await fetch('/v1/auth/session')).json();
      const res = await fetch('/v1/sso/oidc', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-sealpost-csrf': session.csrf_token },
        body: JSON.stringify({ issuer: 'https://attacker.example', client_id: 'x', client_secret: 'y' }) });
      return { status: res.status, body: await res.json() };
    })()`)) as { status: number; body: { code: string } };
    expect(answer).toMatchObject({ status: 403, body: { code: 'SP_ERR_AUTH_SCOPE_MISSING' } });
    expect((await sso().oidcSettings(tenant))?.settings.issuer).toBe(ISSUER);
  });

  it('passes axe at 1280 and 390 px wide without sideways scrolling', async () => {
    const { tenant } = await c.app.createTenant('operation');
    const idp = await idpKeyPair('console-idp-axe');
    await sso().putOidc(tenant, { issuer: ISSUER, clientId: 'sealpost', clientSecret: 'owner-secret' }, ADMIN);
    await sso().putSaml(tenant, { idpEntityId: 'https://idp.acme.example/saml', idpSsoUrl: 'https://idp.acme.example/saml/sso', idpCertificates: [idp.certPem] }, ADMIN);
    await sso().addDomain(tenant, 'a-rather-long-subdomain-name.of-the-company.acme.example', ADMIN);
    for (const [viewport, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']] as const) {
      const page = await signedIn(tenant, 'owner', viewport);
      await openSso(page);
      await saveScreenshot(page, `console-sso-${label}`);
      await expectAccessible(page, `sso at ${viewport.width} px`);
      const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow, `sso at ${viewport.width} px scrolls sideways`).toBeLessThanOrEqual(0);
    }
  });
});
