import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { inject } from 'vitest';

/** True when this run has a Chromium to drive (see global-setup): use with `describe.skipIf`. */
export const noBrowser = (): boolean => inject('chromiumPath') === '';

/** Where tests save screenshots of the pages they visit (kept after the run, for people to look at). */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-output/screenshots');

export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, with an empty profile of its own (Playwright makes and removes it)
 * and nothing that reaches past loopback: the background-networking flags stop the connections
 * the closed network refuses.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: inject('chromiumPath'),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** Saves a full-page PNG under test-output/screenshots/<name>.png and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
