import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from '../../src/app/worker.js';
import type { DeliveryWorker } from '../../src/delivery/delivery.worker.js';
import { noBrowser, saveScreenshot } from '../support/browser.js';
import { DESKTOP, PHONE, expectAccessible, guardPage, operatorWithTotp, signInWithTotp, startConsoleApp, type ConsoleApp } from '../support/console-app.js';
import type { SignedInOperator } from '../support/operators.js';
import { until } from '../support/poll.js';

/** What a hostile sender puts in every field it controls. */
const HOSTILE = {
  script: '<script>alert("script")</script>',
  img: '<img src=x onerror=alert("img")>',
  link: '<a href="javascript:alert(\'link\')">click me</a>',
  svg: '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'svg\')"><script>alert("svg-script")</script></svg>',
  remote: '<img src="https://tracker.example.net/pixel.png">',
};

describe.skipIf(noBrowser())('console payloads, deliveries and receipts (Chromium)', () => {
  let c: ConsoleApp;
  let worker: DeliveryWorker;
  let receiver: http.Server;
  const received: string[] = [];
  let tenant: string;
  let apiKey: string;
  let developer: SignedInOperator;
  let jsonId: string;
  let emailId: string;
  let acceptedReceipt: Record<string, unknown>;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      // The receiver's answer is shown in the attempts timeline: it is hostile too.
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'text/html' }).end(`ok ${HOSTILE.script}${HOSTILE.img}`);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    c = await startConsoleApp({ SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true' });
    worker = startWorker(c.app.context, { idlePollMs: 10 });
    ({ tenant, apiKey } = await c.app.createTenant());
    const destination = await c.app.fetch('/v1/destinations', {
      method: 'POST',
      token: apiKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }),
    });
    expect(destination.status).toBe(201);

    const sent = await c.app.fetch('/v1/payloads', { method: 'POST', token: apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ invoice: 'INV-4711', ...HOSTILE, [HOSTILE.img]: HOSTILE.link }) });
    expect(sent.status).toBe(202);
    ({ id: jsonId, receipt: acceptedReceipt } = (await sent.json()) as { id: string; receipt: Record<string, unknown> });
    // An e-mail as the SMTP listener hands it to the one ingest service (the parsing is tested with the listener).
    ({ id: emailId } = await c.app.context.payloads.ingest({
      tenantId: tenant,
      type: 'email.received',
      source: { channel: 'smtp', remote_ip: '127.0.0.1', tls: 'TLSv1.3', auth: { spf: 'pass', dkim: 'pass', dmarc: 'pass' } },
      data: { from: HOSTILE.img, to: ['ops@example.com'], subject: HOSTILE.script, text: HOSTILE.link, html: `<p>Hi</p>${HOSTILE.script}${HOSTILE.img}${HOSTILE.link}${HOSTILE.svg}${HOSTILE.remote}`, headers: {} },
      attachments: [],
    }));
    await until(() => received.length >= 2, { explain: () => `${received.length} deliveries received` });
    developer = await operatorWithTotp(c, tenant, 'developer');
  });
  afterAll(async () => {
    await worker?.stop();
    await c?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  it('finds the payload by search, shows it delivered with its attempt, and replays it', async () => {
    const page = await (await c.newContext()).newPage();
    const guard = guardPage(page, c.origin);
    await signInWithTotp(page, c, developer);
    const table = page.getByRole('table', { name: 'Payloads' });
    await table.waitFor();
    expect(await table.getByRole('row').count()).toBe(3);
    await page.getByLabel('Type').selectOption('email.received');
    await page.getByRole('button', { name: 'Search' }).click();
    await until(async () => (await table.getByRole('row').count()) === 2);
    expect(page.url()).toContain('type=email.received');
    await page.getByLabel('Type').selectOption('payload.received');
    await page.getByLabel('Delivery status').selectOption('succeeded');
    await page.getByRole('button', { name: 'Search' }).click();
    await until(async () => (await table.getByRole('row').count()) === 2 && (await table.textContent())!.includes('payload.received'));
    await expectAccessible(page, 'payload list');
    await saveScreenshot(page, 'console-payloads-desktop');

    await table.getByRole('link').first().click();
    await page.getByRole('heading', { name: `Payload ${jsonId}` }).waitFor();
    const deliveries = page.getByRole('table', { name: 'Deliveries of this payload' });
    await deliveries.waitFor();
    expect(await deliveries.textContent()).toContain('succeeded');
    await expectAccessible(page, 'payload detail');
    await saveScreenshot(page, 'console-payload-desktop');

    await deliveries.getByRole('link', { name: /attempts of delivery/ }).click();
    const timeline = page.getByRole('list', { name: 'Attempts, first to last' });
    await timeline.waitFor();
    expect(await timeline.textContent()).toContain('HTTP 200');
    expect(await timeline.getByLabel('First bytes of the answer').textContent()).toContain(`ok ${HOSTILE.script}`);
    await expectAccessible(page, 'delivery');
    const before = received.length;
    await page.getByRole('button', { name: 'Replay this delivery' }).click();
    await until(() => received.length === before + 1, { explain: () => `${received.length - before} replays received` });
    await until(async () => (await timeline.getByRole('listitem').count()) === 2);
    expect(guard.dialogs).toEqual([]);
    expect(guard.strayRequests).toEqual([]);
  });

  it('replays many deliveries at once with a progress bar', async () => {
    const page = await (await c.newContext(PHONE)).newPage();
    await signInWithTotp(page, c, developer);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    await page.getByRole('table', { name: 'Deliveries' }).waitFor();
    const before = received.length;
    await page.getByRole('button', { name: 'Select all' }).click();
    await page.getByRole('button', { name: 'Replay selected (2)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Replay' }).click();
    await page.getByText('Replayed 2 of 2').waitFor();
    expect(await page.locator('progress').getAttribute('value')).toBe('2');
    await until(() => received.length === before + 2, { explain: () => `${received.length - before} replays received` });
    await expectAccessible(page, 'deliveries');
    await saveScreenshot(page, 'console-deliveries-phone');
  });

  it('hides replay from a viewer, and the API refuses the viewer\'s replay anyway', async () => {
    const viewer = await operatorWithTotp(c, tenant, 'viewer');
    const page = await (await c.newContext()).newPage();
    await signInWithTotp(page, c, viewer);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    const table = page.getByRole('table', { name: 'Deliveries' });
    await table.waitFor();
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    expect(await table.getByRole('checkbox').count()).toBe(0);
    const delivery = ((await (await page.request.get('/v1/deliveries')).json()) as { data: { id: string }[] }).data[0]!.id;
    const csrf = ((await (await page.request.get('/v1/auth/session')).json()) as { csrf_token: string }).csrf_token;
    const refused = await page.request.post(`/v1/deliveries/${delivery}/retry`, { headers: { 'x-sealpost-csrf': csrf } });
    expect(refused.status()).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('SP_ERR_AUTH_SCOPE_MISSING');
  });

  it('verifies a receipt in the browser against the tenant\'s published keys, and refuses a tampered one', async () => {
    const page = await (await c.newContext()).newPage();
    const guard = guardPage(page, c.origin);
    await signInWithTotp(page, c, developer);
    await page.goto(`/console/payloads/${jsonId}`);
    const receipt = page.getByRole('article', { name: `Receipt ${String(acceptedReceipt.id)}` });
    await receipt.getByRole('button', { name: 'Verify signature' }).click();
    await receipt.getByText('Signature valid').waitFor();

    // The public page, signed out: paste, check, and a single changed member fails.
    const anonymous = await (await c.newContext(PHONE)).newPage();
    const anonGuard = guardPage(anonymous, c.origin);
    await anonymous.goto('/verify');
    await anonymous.getByRole('heading', { name: 'Verify a Sealpost receipt' }).waitFor();
    const check = async (text: string, expectedTenant = ''): Promise<string> => {
      await anonymous.getByLabel('Receipt (JSON)').fill(text);
      await anonymous.getByLabel('Expected tenant (optional)').fill(expectedTenant);
      await anonymous.getByRole('button', { name: 'Verify' }).click();
      const result = anonymous.locator('.banner');
      await result.waitFor();
      return (await result.textContent())!;
    };
    expect(await check(JSON.stringify(acceptedReceipt, null, 2), tenant)).toContain('Signature valid');
    await saveScreenshot(anonymous, 'console-verify-phone');
    expect(await check(JSON.stringify({ ...acceptedReceipt, message_id: emailId }))).toContain('Invalid signature');
    expect(await check(JSON.stringify(acceptedReceipt), 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z')).toContain('not ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z');
    expect(await check('{"v":1,"v":1}')).toContain('repeats a member name');
    expect(await check('not json')).toContain('not JSON');
    await expectAccessible(anonymous, '/verify');
    await anonymous.setViewportSize(DESKTOP);
    await saveScreenshot(anonymous, 'console-verify-desktop');
    expect([...guard.dialogs, ...anonGuard.dialogs]).toEqual([]);
    expect([...guard.strayRequests, ...anonGuard.strayRequests]).toEqual([]);
  });

  it('renders hostile payload and e-mail content inert: no dialog, no request, no element made from it', async () => {
    const context = await c.newContext();
    const page = await context.newPage();
    const guard = guardPage(page, c.origin);
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') violations.push(message.text());
    });
    await signInWithTotp(page, c, developer);
    for (const id of [jsonId, emailId]) {
      await page.goto(`/console/payloads/${id}`);
      await page.getByRole('heading', { name: `Payload ${id}` }).waitFor();
      await page.getByRole('table', { name: 'Deliveries of this payload' }).waitFor();
      const main = page.locator('main');
      // Each hostile string is on the page as text, exactly as sent...
      expect(await main.textContent()).toContain(id === jsonId ? JSON.stringify(HOSTILE.svg) : HOSTILE.remote);
      // ...and none became markup.
      expect(await main.locator('script, img, svg, iframe, object, embed').count()).toBe(0);
      expect(await page.locator('a[href^="javascript:"], [onerror], [onload]').count()).toBe(0);
      await saveScreenshot(page, `console-xss-${id === jsonId ? 'json' : 'email'}-desktop`);
    }
    expect(await page.evaluate('window.__xss === undefined')).toBe(true);
    expect(guard.dialogs).toEqual([]);
    expect(guard.strayRequests).toEqual([]);
    expect(violations.filter((v) => /Content Security Policy/.test(v))).toEqual([]);
  });
});
