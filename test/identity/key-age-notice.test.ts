import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailCapture, type MailCapture } from '../support/mail-capture.js';
import { signInAs, TestClock } from '../support/operators.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const DAY = 86_400_000;

describe.each(testDialects())('the monthly notice of old API keys on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let mail: MailCapture;
  const clock = new TestClock(Date.UTC(2026, 11, 5));

  beforeAll(async () => {
    mail = await startMailCapture();
    app = await startTestApp(dialect, { env: { SEALPOST_OUTBOUND_SMTP_URL: mail.url }, overrides: { identityClock: clock.now, outboundMailTls: mail.tls } });
  });
  afterAll(async () => {
    await app?.close();
    await mail?.close();
  });

  it('mails each owner the keys older than a year, once a month', async () => {
    const { tenant, apiKey } = await app.createTenant('growth');
    const owner = await signInAs(app, clock, tenant, 'owner', 'owner@old-keys.example');
    await signInAs(app, clock, tenant, 'admin', 'admin@old-keys.example');
    const old = await app.context.database.db.selectFrom('api_keys').select(['id', 'prefix']).where('tenant_id', '=', tenant).executeTakeFirstOrThrow();
    await app.context.database.db.updateTable('api_keys').set({ created_at: clock.ms - 400 * DAY }).where('id', '=', old.id).execute();
    const fresh = await app.fetch('/v1/api-keys', { method: 'POST', token: apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fresh', scopes: ['payloads:read'] }) });
    const freshPrefix = ((await fresh.json()) as { prefix: string }).prefix;

    expect(await app.context.identity.keyAgeNotices.run()).toBe(1);
    const notice = await mail.waitFor(owner.email);
    expect(notice.raw).toContain(old.prefix);
    expect(notice.raw).toContain(old.id);
    expect(notice.raw).not.toContain(freshPrefix);
    expect(mail.messages.filter((m) => m.to.includes('admin@old-keys.example'))).toEqual([]);

    // The same month: already sent (another scheduler process would find it claimed too).
    expect(await app.context.identity.keyAgeNotices.run()).toBe(0);
    clock.advance(31 * DAY);
    expect(await app.context.identity.keyAgeNotices.run()).toBe(1);
  });
});
