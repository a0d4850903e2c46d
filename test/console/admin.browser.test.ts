import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noBrowser, saveScreenshot } from '../support/browser.js';
import { DESKTOP, PHONE, expectAccessible, guardPage, operatorWithTotp, signInWithTotp, startConsoleApp, type ConsoleApp } from '../support/console-app.js';

/** The admin pages (packages/console/src/pages/admin/), by console path and heading. */
const ADMIN_PAGES = [
  ['/destinations', 'Destinations'],
  ['/inboxes', 'Inboxes'],
  ['/api-keys', 'API keys'],
  ['/members', 'Members'],
  ['/policies', 'Security policy'],
  ['/audit', 'Audit log'],
  ['/staff-access', 'Staff access'],
  ['/signing-keys', 'Signing keys'],
] as const;

describe.skipIf(noBrowser())('console admin pages (Chromium)', { timeout: 60_000 }, () => {
  let c: ConsoleApp;
  let tenant: string;
  let apiKey: string;
  let receiver: http.Server;
  let receiverUrl = '';
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks from the receiver');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/sealpost`;
    c = await startConsoleApp({ SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true' });
    ({ tenant, apiKey } = await c.app.createTenant('operation'));
  });
  afterAll(async () => {
    await c?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  async function signedIn(role: 'viewer' | 'admin' | 'owner', viewport = DESKTOP, tenantId = tenant): Promise<Page> {
    const operator = await operatorWithTotp(c, tenantId, role);
    const page = await (await c.newContext(viewport)).newPage();
    // A locator that never matches fails with its name, well before the test's own timeout.
    page.setDefaultTimeout(10_000);
    await signInWithTotp(page, c, operator);
    return page;
  }

  async function open(page: Page, path: string, heading: string): Promise<void> {
    await page.goto(`/console${path}`);
    await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
    await page.getByText('Loading…').first().waitFor({ state: 'detached' });
  }

  it('creates a destination and sends a signed test event to a loopback receiver, showing its answer', async () => {
    const page = await signedIn('admin');
    const guard = guardPage(page, c.origin);
    await open(page, '/destinations', 'Destinations');
    await page.getByLabel('Endpoint URL').fill(receiverUrl);
    await page.getByRole('button', { name: 'Create destination' }).click();
    const card = page.getByRole('listitem').filter({ hasText: receiverUrl });
    await card.waitFor();
    await card.getByRole('button', { name: 'Send test event' }).click();
    const outcome = card.getByRole('status').filter({ hasText: 'Delivered: HTTP 200' });
    await outcome.waitFor();
    expect(await outcome.textContent()).toContain('thanks from the receiver');
    expect(received).toHaveLength(1);
    expect(received[0]!.headers['webhook-signature']).toMatch(/^v1a,/);
    expect(JSON.parse(received[0]!.body)).toMatchObject({ type: 'sealpost.test', test: true, tenant });
    await expectAccessible(page, 'destinations with a test result');
    await saveScreenshot(page, 'console-destination-test-event-desktop');
    expect(guard.dialogs).toEqual([]);
    expect(guard.strayRequests).toEqual([]);
  });

  it('creates an API key and shows its secret once only', async () => {
    const page = await signedIn('admin');
    await open(page, '/api-keys', 'API keys');
    await page.getByLabel('Name').fill('billing service');
    // Sessions never put payloads:write on a key (people do not send payloads): the console does not offer it.
    expect(await page.getByRole('checkbox', { name: 'payloads:write' }).count()).toBe(0);
    await page.getByRole('checkbox', { name: 'payloads:read' }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.getByLabel('New API key');
    await secret.waitFor();
    const token = (await secret.textContent()) ?? '';
    expect(token).toMatch(/^sp_live_/);
    expect(await page.getByText('you will not see it again').count()).toBe(1);
    // The key works: it is a real one.
    expect((await c.app.fetch('/v1/signing-keys', { token })).status).toBe(200);
    await expectAccessible(page, 'api keys with a new secret');
    await saveScreenshot(page, 'console-api-key-created-desktop');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    await page.getByRole('cell', { name: /billing service/ }).waitFor();
    expect(await page.content()).not.toContain(token);
    expect(await page.evaluate('JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])')).toBe('[[],[]]');
  });

  it('exports the audit log as a file', async () => {
    const page = await signedIn('admin');
    await open(page, '/audit', 'Audit log');
    await page.getByRole('cell', { name: 'login.succeeded' }).first().waitFor();
    await page.getByLabel('Export from').fill('2020-01-01T00:00');
    await page.getByLabel('Export to').fill('2100-01-01T00:00');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const filename = download.suggestedFilename();
    expect(filename.startsWith(`sealpost-audit-${tenant}-`) && filename.endsWith('.jsonl')).toBe(true);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.map((l) => (JSON.parse(l) as { action?: string; event?: { action?: string } })).some((e) => JSON.stringify(e).includes('login.succeeded'))).toBe(true);
    await saveScreenshot(page, 'console-audit-export-desktop');
  });

  it('says why export is unavailable below the plan that has it', async () => {
    const { tenant: starter } = await c.app.createTenant('starter');
    const page = await signedIn('owner', DESKTOP, starter);
    await open(page, '/audit', 'Audit log');
    await page.getByText('Export is part of the operation plan').waitFor();
    expect(await page.getByRole('button', { name: 'Export' }).isDisabled()).toBe(true);
  });

  it('refuses a viewer the API-keys page and its API', async () => {
    const page = await signedIn('viewer');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Audit' }).count()).toBe(1);
    await page.goto('/console/api-keys');
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect(await page.getByRole('heading', { name: 'API keys' }).count()).toBe(0);
    // Whatever the console shows, the API itself refuses the session.
    const listed = await page.request.get('/v1/api-keys');
    expect(listed.status()).toBe(403);
    expect(((await listed.json()) as { code: string }).code).toMatch(/^SP_ERR_AUTH_/);
  });

  it('every admin page passes axe at 1280 and 390 px wide, without sideways scrolling', async () => {
    // An inbox, so its page shows an address and its copy button.
    const inbox = await c.app.fetch('/v1/inboxes', { method: 'POST', token: apiKey, body: '{"dmarc_policy":"reject"}', headers: { 'content-type': 'application/json' } });
    expect(inbox.status).toBe(201);
    await inbox.arrayBuffer();
    for (const [viewport, label] of [[DESKTOP, 'desktop'], [PHONE, 'phone']] as const) {
      const page = await signedIn('owner', viewport);
      for (const [path, heading] of ADMIN_PAGES) {
        await open(page, path, heading);
        await expectAccessible(page, `${path} at ${viewport.width} px`);
        const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
        expect(overflow, `${path} at ${viewport.width} px scrolls sideways`).toBeLessThanOrEqual(0);
        await saveScreenshot(page, `console${path.replace('/', '-')}-${label}`);
      }
    }
  });
});
