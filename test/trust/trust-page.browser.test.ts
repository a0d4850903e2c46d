import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, noBrowser, saveScreenshot, type TestBrowser } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { writeTrustConfig } from './trust-test-support.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

describe.skipIf(noBrowser())('the trust center page in Chromium', { timeout: 120_000 }, () => {
  let app: TestApp;
  let browser: TestBrowser;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sp-trust-browser-'));
    app = await startTestApp('sqlite', { env: { SEALPOST_TRUST_CONFIG: writeTrustConfig(dir) } });
    await app.context.trust.securityKeys.create({ name: 'Example Relay security', email: 'security@example.com', replace: false, actor: { type: 'system', id: 'test' } });
    const { tenant } = await app.context.tenants.create('Shown nowhere', 'starter');
    await app.context.receipts.keys.rotate(tenant.id, { actor: { type: 'system', id: 'test' } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders under its CSP with no violation, its stylesheet applied, and a skip link that reaches main', async () => {
    const context = await browser.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 } });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (err) => problems.push(err.message));
      const res = await page.goto(`${app.url}/security`);
      expect(res?.status()).toBe(200);
      expect(problems).toEqual([]);
      expect(await page.title()).toBe('Security — Example Relay Ltd');
      // The stylesheet loaded (its rule for the badge applies): no inline style was needed.
      expect(await page.evaluate<string>("getComputedStyle(document.querySelector('.badge')).borderRadius")).not.toBe('0px');
      await saveScreenshot(page, 'trust-center');
      await page.keyboard.press('Tab');
      expect(await page.evaluate<string>('document.activeElement.textContent')).toBe('Skip to main content');
      await page.keyboard.press('Enter');
      expect(await page.evaluate<string>('document.activeElement.id')).toBe('main');

      await page.setViewportSize({ width: 390, height: 800 });
      await saveScreenshot(page, 'trust-center-narrow');
      // Nothing overflows sideways on a phone but the tables' own scroll boxes.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    } finally {
      await context.close();
    }
  });

  it('has no serious or critical axe-core violations', async () => {
    // axe is injected as a script, which the page's CSP rightly refuses: this context lets the test's own script in.
    const context = await browser.browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true });
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/security`);
      await page.addScriptTag({ content: AXE_SOURCE });
      const result = await page.evaluate<{ violations: AxeViolation[] }>('axe.run()');
      const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
      expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
