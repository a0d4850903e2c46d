import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noBrowser, saveScreenshot } from '../support/browser.js';
import { BROWSER_TEST_TIMEOUT_MS, PHONE, expectAccessible, guardPage, operatorWithTotp, signInWithTotp, startConsoleApp, type ConsoleApp } from '../support/console-app.js';
import { STRONG_PASSWORD, totpAt } from '../support/operators.js';

// A browser drives a whole server here: on a loaded machine a test takes several times its usual seconds.
describe.skipIf(noBrowser())('console sign-in (Chromium)', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let c: ConsoleApp;
  let tenant: string;

  beforeAll(async () => {
    c = await startConsoleApp();
    ({ tenant } = await c.app.createTenant());
  }, BROWSER_TEST_TIMEOUT_MS);
  afterAll(async () => {
    await c?.close();
  });

  it('signs in with password and TOTP, keeps no secret in web storage, and signs out', async () => {
    const operator = await operatorWithTotp(c, tenant, 'admin');
    const context = await c.newContext();
    const page = await context.newPage();
    const guard = guardPage(page, c.origin);
    await page.goto('/console/');
    await page.getByRole('heading', { name: 'Sign in to Sealpost' }).waitFor();
    await expectAccessible(page, 'sign-in');
    await saveScreenshot(page, 'console-sign-in-desktop');

    await page.getByLabel('E-mail').fill(operator.email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Second factor' }).waitFor();
    await expectAccessible(page, 'second-factor step');
    c.clock.advance(30_000);
    await page.getByLabel('Code from your authenticator app').fill(await totpAt(operator.totpSecret, c.clock));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Payloads' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).textContent()).toContain('Payloads');
    expect(await page.evaluate('JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage), document.cookie])')).toBe('[[],[],""]');
    const cookies = await context.cookies();
    expect(cookies.map((k) => [k.name, k.httpOnly, k.secure])).toEqual([['__Host-sealpost_session', true, true]]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sealpost' }).waitFor();
    expect((await page.request.get('/v1/auth/session')).status()).toBe(401);
    expect(guard.dialogs).toEqual([]);
    expect(guard.strayRequests).toEqual([]);
  });

  it('returns to sign-in when the session is revoked elsewhere', async () => {
    const operator = await operatorWithTotp(c, tenant, 'developer');
    const page = await (await c.newContext()).newPage();
    await signInWithTotp(page, c, operator);
    const sessionId = ((await (await page.request.get('/v1/auth/session')).json()) as { session: { id: string } }).session.id;
    const revoked = await c.app.fetch(`/v1/auth/sessions/${sessionId}`, { method: 'DELETE', headers: { cookie: operator.cookie, 'x-sealpost-csrf': operator.csrf } });
    expect(revoked.status).toBe(204);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sealpost' }).waitFor();
  });

  it('refuses a wrong password with the server\'s problem, shown in an alert', async () => {
    const operator = await operatorWithTotp(c, tenant, 'viewer');
    const page = await (await c.newContext(PHONE)).newPage();
    await page.goto('/console/');
    await page.getByLabel('E-mail').fill(operator.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/SP_ERR_AUTH_/);
    await saveScreenshot(page, 'console-sign-in-refused-phone');
  });
});
