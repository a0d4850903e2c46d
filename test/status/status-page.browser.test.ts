import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp } from '../../src/app/smtp.js';
import type { SmtpServerHandle } from '../../src/ingest/smtp/smtp.server.js';
import { fixedResolver } from '../ingest/smtp/smtp-test-support.js';
import { launchBrowser, noBrowser, saveScreenshot, type TestBrowser } from '../support/browser.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CLI = { type: 'system', id: 'test' } as const;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

describe.skipIf(noBrowser())('status page in Chromium', { timeout: 120_000 }, () => {
  let app: TestApp;
  let smtp: SmtpServerHandle;
  let browser: TestBrowser;
  let incidentId = '';
  const targets = { https: { host: '127.0.0.1', port: 0, servername: 'localhost' }, smtp: { host: '127.0.0.1', port: 0 } };

  beforeAll(async () => {
    app = await startTestApp('sqlite', { overrides: { statusProbeTargets: () => targets } });
    targets.https.port = Number(new URL(app.url).port);
    smtp = await startSmtp(app.context, { port: 0, host: '127.0.0.1', name: 'mx.sealpost.test', resolver: fixedResolver({}) });
    targets.smtp.port = smtp.port;
    await app.context.status.components.run();
    const opened = await app.context.status.incidents.open(CLI, {
      title: 'Webhook deliveries delayed',
      impact: 'minor',
      components: ['delivery'],
      customerVisible: true,
      message: 'Deliveries to some destinations are running a few minutes late. <b>not bold</b>',
    });
    incidentId = opened.incident.id;
    const now = Date.now();
    await app.context.status.maintenance.schedule(CLI, { components: ['smtp_ingress'], startsAt: now + 86_400_000, endsAt: now + 90_000_000, note: 'MX certificate rotation' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await smtp?.close();
    await app?.close();
  });

  async function statusPage(bypassCSP = false): Promise<Page> {
    const context = await browser.browser.newContext({ ignoreHTTPSErrors: true, bypassCSP, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${app.url}/status`);
    return page;
  }

  it('renders components, the incident and the maintenance, escaped', async () => {
    const page = await statusPage();
    expect(await page.textContent('h1')).toBe('System status');
    expect(await page.locator('.component').count()).toBe(4);
    expect(await page.locator('.component').first().locator('.bar').count()).toBe(90);
    expect(await page.textContent('#h-current')).toBe('Current incidents');
    expect(await page.locator('b').count()).toBe(0);
    expect(await page.textContent('#status-live')).toContain('<b>not bold</b>');
    expect(await page.textContent('#status-live')).toContain('MX certificate rotation');
    await saveScreenshot(page, 'status-page');
    await page.context().close();
  });

  it('has no serious or critical accessibility violations (axe-core)', async () => {
    // axe is injected as an inline script, which the page's CSP rightly refuses: this context bypasses it.
    const page = await statusPage(true);
    await page.addScriptTag({ content: AXE });
    const result = (await page.evaluate(async () => (globalThis as unknown as { axe: { run(): Promise<unknown> } }).axe.run())) as { violations: { id: string; impact: string }[] };
    expect(result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    await page.context().close();
  });

  it('shows a posted update live, without reload, under the strict CSP', async () => {
    const page = await statusPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await app.context.status.incidents.postUpdate(CLI, incidentId, { state: 'identified', message: 'A slow destination held a worker; fixed by a timeout.' });
    await until(async () => ((await page.textContent('#status-live')) ?? '').includes('A slow destination held a worker'), { timeoutMs: 15_000 });
    // The same document: no navigation happened.
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
    await saveScreenshot(page, 'status-page-live-update');
    await page.context().close();
  });
});
