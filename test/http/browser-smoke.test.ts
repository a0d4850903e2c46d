import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, noBrowser, type TestBrowser } from '../support/browser.js';

// The browser tests' own plumbing: Debian's Chromium starts headless and loads a loopback page.
describe.skipIf(noBrowser())('test browser', () => {
  let browser: TestBrowser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('renders a page served on loopback', async () => {
    const server = createServer((_req, res) => res.end('<!doctype html><title>t</title><p id="x">loopback</p>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const page = await browser.browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await page.textContent('#x')).toBe('loopback');
    } finally {
      server.close();
    }
  });
});
