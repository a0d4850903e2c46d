import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noBrowser, saveScreenshot } from '../support/browser.js';
import { PHONE, expectAccessible, guardPage, operatorWithTotp, signInWithTotp, startConsoleApp, type ConsoleApp } from '../support/console-app.js';

describe.skipIf(noBrowser())('console sign-in (Chromium)', () => {
  let c: ConsoleApp;
  let tenant: string;

  beforeAll(async () => {
    c = await startConsoleApp();
    ({ tenant } = await c.app.createTenant());
  });
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

    await signInWithTotp(page, c, operator);
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
