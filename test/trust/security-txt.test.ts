import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditActor } from '../../src/audit/audit-event.js';
import { SECURITY_TXT_PATH } from '../../src/trust/security-txt.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';
import { gpgVerify } from './gpg.js';
import { parseSecurityTxt } from './rfc9116.js';

const ACTOR: AuditActor = { type: 'system', id: 'test' };
const DAY = 86_400_000;

function trustYaml(reviewBy: string): string {
  return `version: 1
reviewBy: "${reviewBy}"
organization: Example Corp
securityTxt:
  contact:
    - mailto:security@example.com
    - https://example.com/report
  preferredLanguages: [en, de]
  acknowledgments: https://example.com/thanks
contacts: []
compliance: []
bounty:
  rewards: []
  outOfScope: []
`;
}

const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

describe.each(testDialects())('/.well-known/security.txt on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let dir: string;
  let offset = 0;
  const clock = (): number => Date.now() + offset;

  async function fetchTxt(): Promise<string> {
    const res = await app.fetch(SECURITY_TXT_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    return res.text();
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sp-trust-'));
    writeFileSync(path.join(dir, 'trust.yaml'), trustYaml(isoDate(Date.now() + 400 * DAY)));
    app = await startTestApp(dialect, { env: { SEALPOST_TRUST_CONFIG: path.join(dir, 'trust.yaml'), SEALPOST_INBOUND_DOMAIN: 'mail.example.com' }, overrides: { trustClock: clock } });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is served unsigned, but valid, before the deployment has a security key', async () => {
    const parsed = parseSecurityTxt(await fetchTxt());
    expect(parsed.signed).toBe(false);
    expect(parsed.get('Encryption')).toEqual([]);
    expect(parsed.get('Contact')).toEqual(['mailto:security@example.com', 'https://example.com/report']);
  });

  it('parses per RFC 9116 once signed: contacts, one Expires within a year, https URIs, canonical URL', async () => {
    await app.context.trust.securityKeys.create({ name: 'Example security', email: 'security@example.com', replace: false, actor: ACTOR });
    // A new key is picked up within a minute (the cached copy is re-checked then).
    offset += 61_000;
    const parsed = parseSecurityTxt(await fetchTxt(), clock());
    expect(parsed.signed).toBe(true);
    expect(parsed.fields.map(([name]) => name)).toEqual(['Contact', 'Contact', 'Expires', 'Encryption', 'Acknowledgments', 'Preferred-Languages', 'Canonical', 'Policy']);
    expect(parsed.get('Encryption')).toEqual(['https://localhost/security/pgp-key.asc']);
    expect(parsed.get('Canonical')).toEqual(['https://localhost/.well-known/security.txt']);
    expect(parsed.get('Policy')).toEqual(['https://localhost/security']);
    expect(parsed.get('Preferred-Languages')).toEqual(['en, de']);
    const expires = Date.parse(parsed.get('Expires')[0]!);
    expect(expires - clock()).toBeGreaterThan(89 * DAY);
    expect(expires - clock()).toBeLessThanOrEqual(90 * DAY);
  });

  it('verifies with gpg against the key at its Encryption URL, and fails once tampered with', async () => {
    const text = await fetchTxt();
    const key = await (await app.fetch('/security/pgp-key.asc')).text();
    const good = await gpgVerify(key, text);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stderr).toContain('Good signature');
    const tampered = text.replace('mailto:security@example.com', 'mailto:attacker@example.net');
    expect(tampered).not.toBe(text);
    const bad = await gpgVerify(key, tampered);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('BAD signature');
  });

  it('keeps the signed copy between requests and re-signs with a later Expires when fewer than 60 days remain', async () => {
    const first = await fetchTxt();
    offset += 10 * DAY;
    expect(await fetchTxt()).toBe(first);
    offset += 21 * DAY;
    const refreshed = await fetchTxt();
    expect(refreshed).not.toBe(first);
    const before = Date.parse(parseSecurityTxt(first).get('Expires')[0]!);
    const after = Date.parse(parseSecurityTxt(refreshed, clock()).get('Expires')[0]!);
    expect(after - before).toBeGreaterThanOrEqual(31 * DAY - 1000);
    const key = await (await app.fetch('/security/pgp-key.asc')).text();
    expect((await gpgVerify(key, refreshed)).code).toBe(0);
  });

  it('is signed by the replacement key once the security key is replaced', async () => {
    const old = await (await app.fetch('/security/pgp-key.asc')).text();
    await app.context.trust.securityKeys.create({ name: 'Example security', email: 'security@example.com', replace: true, actor: ACTOR });
    offset += 61_000;
    const text = await fetchTxt();
    const fresh = await (await app.fetch('/security/pgp-key.asc')).text();
    expect(fresh).not.toBe(old);
    expect((await gpgVerify(fresh, text)).code).toBe(0);
    expect((await gpgVerify(old, text)).code).not.toBe(0);
  });
});

describe('security.txt Expires and the trust config review date', () => {
  it('never runs past the reviewBy date people set, and is not re-signed per request meanwhile', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sp-trust-'));
    const reviewBy = isoDate(Date.now() + 20 * DAY);
    writeFileSync(path.join(dir, 'trust.yaml'), trustYaml(reviewBy));
    const app = await startTestApp('sqlite', { env: { SEALPOST_TRUST_CONFIG: path.join(dir, 'trust.yaml') } });
    try {
      await app.context.trust.securityKeys.create({ name: 'Sec', email: 'security@example.com', replace: false, actor: ACTOR });
      const first = await (await app.fetch(SECURITY_TXT_PATH)).text();
      const parsed = parseSecurityTxt(first);
      expect(parsed.signed).toBe(true);
      expect(parsed.get('Expires')).toEqual([`${reviewBy}T23:59:59.000Z`]);
      // Capped, it is not re-signed per request (each signature would cost a signing and a log line).
      expect(await (await app.fetch(SECURITY_TXT_PATH)).text()).toBe(first);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
