import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noBrowser, saveScreenshot } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT_MS, PHONE, expectAccessible, guardPage, operatorWithPassword, operatorWithTotp, signInWithTotp, startConsoleApp, submitPassword, type ConsoleApp } from '../support/console-app.js';
import { totpAt } from '../support/operators.js';

// A browser drives a whole server here: on a loaded machine a test takes several times its usual seconds.
describe.skipIf(noBrowser())('console second factors (Chromium)', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let c: ConsoleApp;
  let tenant: string;

  beforeAll(async () => {
    c = await startConsoleApp();
    ({ tenant } = await c.app.createTenant());
  }, BROWSER_TEST_TIMEOUT_MS);
  afterAll(async () => {
    await c?.close();
  });

  it('makes an operator without a second factor enrol one (authenticator app, from its QR code), shows the recovery codes once, then asks for a code at the next sign-in', async () => {
    const operator = await operatorWithPassword(c, tenant, 'developer');
    const context = await c.newContext();
    const page = await context.newPage();
    const guard = guardPage(page, c.origin);
    await submitPassword(page, operator.email);
    await page.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
    // Until a factor is enrolled, the API refuses everything else to this session.
    expect((await page.request.get('/v1/payloads')).status()).toBe(403);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = (await page.locator('code.secret').textContent())!;
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await page.getByLabel('First code from the app').fill(await totpAt(secret, c.clock));
    await page.getByRole('button', { name: 'Confirm the authenticator' }).click();
    const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    expect(await codes.count()).toBe(10);
    await expectAccessible(page, 'enrolment with recovery codes');
    await saveScreenshot(page, 'console-recovery-codes-desktop');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByRole('heading', { name: 'Payloads' }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { name: 'Account security' }).waitFor();
    expect(await page.getByText('Enrolled', { exact: true }).count()).toBe(1);
    await expectAccessible(page, 'account');
    await saveScreenshot(page, 'console-account-desktop');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await submitPassword(page, operator.email);
    c.clock.advance(30_000);
    await page.getByLabel('Code from your authenticator app').fill(await totpAt(secret, c.clock));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Payloads' }).waitFor();
    expect(guard.dialogs).toEqual([]);
    expect(guard.strayRequests).toEqual([]);
  });

  it('enrols a security key with Chromium\'s virtual authenticator and signs in with it', async () => {
    const operator = await operatorWithPassword(c, tenant, 'viewer');
    const context = await c.newContext(PHONE);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await submitPassword(page, operator.email);
    await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByText('Security keys and passkeys').waitFor();
    expect(await page.locator('.facts dd').nth(3).textContent()).toBe('1');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await submitPassword(page, operator.email);
    await page.getByRole('button', { name: 'Use your security key or passkey' }).click();
    await page.getByRole('heading', { name: 'Payloads' }).waitFor();
    await saveScreenshot(page, 'console-payloads-empty-phone');
  });

  it('lists the operator\'s sessions and revokes another one, which is then signed out', async () => {
    const operator = await operatorWithTotp(c, tenant, 'admin');
    const first = await (await c.newContext()).newPage();
    await signInWithTotp(first, c, operator);
    const second = await (await c.newContext()).newPage();
    await signInWithTotp(second, c, operator);
    await second.getByRole('link', { name: 'Account' }).click();
    const firstId = ((await (await first.request.get('/v1/auth/session')).json()) as { session: { id: string } }).session.id;
    const revokeFirst = second.getByRole('button', { name: `Revoke session ${firstId}` });
    await revokeFirst.click();
    await expectAccessible(second, 'revoke dialog');
    await second.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await revokeFirst.waitFor({ state: 'detached' });
    // The list reloads after a revocation: wait for it to be back before counting.
    const own = second.getByRole('button', { name: 'Revoke this session (signs you out)' });
    await own.waitFor();
    expect(await own.count()).toBe(1);
    expect((await first.request.get('/v1/auth/session')).status()).toBe(401);
  });
});
