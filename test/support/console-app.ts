import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { SealpostOverrides } from '../../src/app/sealpost.js';
import type { Role } from '../../src/identity/permissions.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { ensureConsoleBuilt } from './console-build.js';
import { STRONG_PASSWORD, TestClock, signInAs, tokenOfLink, totpAt, type SignedInOperator } from './operators.js';
import { startTestApp, type TestApp } from './test-app.js';

/** A free TCP port on loopback (the console's origin must be known before the app starts). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ConsoleApp {
  readonly app: TestApp;
  readonly browser: TestBrowser;
  readonly clock: TestClock;
  /** `https://localhost:<port>`: the app's public URL, so the browser's Origin passes the CSRF check and WebAuthn's RP id is `localhost`. */
  readonly origin: string;
  /** A fresh browser context (own cookies) that trusts the app's self-signed certificate. */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Per-test time limit of the console's browser tests (a sign-in and a few pages each). */
export const BROWSER_TEST_TIMEOUT_MS = 120_000;

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/**
 * A Sealpost on loopback (SQLite) serving the built console, and one Chromium for the test file.
 * `overrides` stand in for the outside world (e.g. the DNS TXT resolver of SSO domains).
 */
export async function startConsoleApp(env: Record<string, string> = {}, overrides: SealpostOverrides = {}): Promise<ConsoleApp> {
  await ensureConsoleBuilt();
  const port = await freePort();
  const origin = `https://localhost:${port}`;
  const clock = new TestClock(Date.now());
  const app = await startTestApp('sqlite', {
    env: { SEALPOST_HTTP_PORT: String(port), SEALPOST_RATE_LIMIT_PER_KEY: '100000', SEALPOST_RATE_LIMIT_PER_IP: '100000', ...env },
    overrides: { ...overrides, publicUrl: origin, identityClock: clock.now },
  });
  let browser: TestBrowser;
  try {
    browser = await launchBrowser();
  } catch (err) {
    await app.close();
    throw err;
  }
  const contexts: BrowserContext[] = [];
  return {
    app,
    browser,
    clock,
    origin,
    async newContext(viewport = DESKTOP) {
      // The app's certificate is self-signed for localhost; the test trusts it as the API tests do.
      const context = await browser.browser.newContext({ ignoreHTTPSErrors: true, viewport, baseURL: origin });
      contexts.push(context);
      return context;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await app.close();
    },
  };
}

/**
 * Watches a page for what an injected script would do: any dialog (alert/confirm/prompt) and any
 * request leaving the app's own origin, or reaching a path the console never loads.
 */
export function guardPage(page: Page, origin: string): { readonly dialogs: string[]; readonly strayRequests: string[] } {
  const dialogs: string[] = [];
  const strayRequests: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:')) return;
    if (!url.startsWith(`${origin}/`) || !/^\/(console|verify|v1|\.well-known)(\/|$|\?)/.test(new URL(url).pathname)) strayRequests.push(`${request.method()} ${url}`);
  });
  return { dialogs, strayRequests };
}

const AXE = path.resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: unknown[];
}

/** Runs axe-core in the page; fails on serious or critical violations (WCAG 2 A/AA rules). */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused, as it should).
  await page.evaluate(readFileSync(AXE, 'utf8'));
  const violations = (await page.evaluate(`(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target) }));
  })()`)) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious, `${what}: ${JSON.stringify(serious, null, 1)}`).toEqual([]);
}

/** An operator of `role` with TOTP enrolled (through the API), ready to sign in through the console. */
export async function operatorWithTotp(consoleApp: ConsoleApp, tenant: string, role: Role): Promise<SignedInOperator> {
  return signInAs(consoleApp.app, consoleApp.clock, tenant, role);
}

/** Signs in through the console's own form: e-mail and password, then a TOTP code. */
export async function signInWithTotp(page: Page, consoleApp: ConsoleApp, operator: Pick<SignedInOperator, 'email' | 'totpSecret'>): Promise<void> {
  await submitPassword(page, operator.email);
  consoleApp.clock.advance(30_000);
  await page.getByLabel('Code from your authenticator app').fill(await totpAt(operator.totpSecret, consoleApp.clock));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** An operator of `role` with a password and no second factor yet. */
export async function operatorWithPassword(consoleApp: ConsoleApp, tenant: string, role: Role): Promise<{ email: string; operatorId: string }> {
  const email = `${role}-${Math.random().toString(36).slice(2)}@example.com`;
  const created = await consoleApp.app.context.identity.members.createOperator(tenant, email, role, { type: 'system', id: 'test' });
  await consoleApp.app.context.identity.members.setPassword('setup', tokenOfLink(created.link!), STRONG_PASSWORD);
  return { email, operatorId: created.operatorId };
}

/** Fills the console's password form. */
export async function submitPassword(page: Page, email: string): Promise<void> {
  await page.goto('/console/');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
