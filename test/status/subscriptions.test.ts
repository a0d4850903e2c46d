import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SCHEDULED_JOBS, startScheduler, type Scheduler } from '../../src/app/scheduler.js';
import { startMailCapture, type CapturedMail, type MailCapture } from '../support/mail-capture.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const CLI = { type: 'system', id: 'test' } as const;

/** The text of a captured mail, quoted-printable soft breaks and `=3D` undone. */
const bodyOf = (mail: CapturedMail): string => mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
const LINKS = {
  confirm: /https:\/\/localhost(\/status\/subscriptions\/confirm\?token=[A-Za-z0-9_-]{43})/,
  unsubscribe: /https:\/\/localhost(\/status\/subscriptions\/unsubscribe\?token=[A-Za-z0-9_-]{43})/,
};
function linkOf(mail: CapturedMail, kind: 'confirm' | 'unsubscribe'): string {
  const match = LINKS[kind].exec(bodyOf(mail));
  if (!match) throw new Error(`no ${kind} link in: ${bodyOf(mail)}`);
  return match[1]!;
}

describe.each(testDialects())('status e-mail subscriptions on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let mail: MailCapture;
  let scheduler: Scheduler;
  // The rate limits' clock: each test starts in a fresh minute, so only the limit test meets the limit.
  let offset = 0;

  beforeAll(async () => {
    mail = await startMailCapture();
    app = await startTestApp(dialect, { env: { SEALPOST_OUTBOUND_SMTP_URL: mail.url }, overrides: { outboundMailTls: mail.tls }, api: { now: () => Date.now() + offset } });
    scheduler = startScheduler(app.context, SCHEDULED_JOBS.filter((job) => job.name === 'status-notices'));
  });
  beforeEach(() => {
    offset += 60_000;
  });
  afterAll(async () => {
    await scheduler?.stop();
    await app?.close();
    await mail?.close();
  });

  const subscribe = (email: string) => app.fetch('/status/subscriptions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  const form = (path: string) => {
    const [pathname, query] = path.split('?');
    return app.fetch(pathname!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query! });
  };
  const mailsTo = (to: string): CapturedMail[] => mail.messages.filter((m) => m.to.includes(to));

  it('sends notices only after the address confirms, each with a working unsubscribe link', async () => {
    const res = await subscribe('ada@customer.example');
    expect(res.status).toBe(202);
    const confirmation = await mail.waitFor('ada@customer.example');
    const confirmLink = linkOf(confirmation, 'confirm');
    // Following the link only shows a form: a mail scanner's GET confirms nothing.
    const page = await app.fetch(confirmLink);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post" action="/status/subscriptions/confirm">');
    expect((await app.context.database.db.selectFrom('status_subscribers').select('confirmed_at').executeTakeFirstOrThrow()).confirmed_at).toBeNull();
    expect((await form(confirmLink)).status).toBe(200);
    // The confirmation token is single-use.
    expect((await form(confirmLink)).status).toBe(400);

    const { incident } = await app.context.status.incidents.open(CLI, { title: 'SMTP ingress refusing mail', impact: 'major', components: ['smtp_ingress'], customerVisible: false, message: 'We are investigating refused mail.' });
    await until(() => mailsTo('ada@customer.example').length >= 2, { timeoutMs: 60_000 });
    const notice = mailsTo('ada@customer.example')[1]!;
    expect(bodyOf(notice)).toContain('We are investigating refused mail.');
    const unsubscribe = linkOf(notice, 'unsubscribe');
    expect((await form(unsubscribe)).status).toBe(200);
    expect(await app.context.database.db.selectFrom('status_subscribers').select('id').execute()).toEqual([]);
    // After unsubscribing, an update queues nothing for that address.
    await app.context.status.incidents.postUpdate(CLI, incident.id, { state: 'resolved', message: 'Resolved.' });
    expect(await app.context.database.db.selectFrom('status_notices').select('id').where('sent_at', 'is', null).execute()).toEqual([]);
  });

  it('sends nothing to an address that never confirmed', async () => {
    await subscribe('bob@customer.example');
    await mail.waitFor('bob@customer.example');
    await app.context.status.incidents.open(CLI, { title: 'Console slow', impact: 'minor', components: ['console'], customerVisible: false, message: 'Console pages load slowly.' });
    expect(await app.context.database.db.selectFrom('status_notices').select('id').execute()).toEqual([]);
    expect(mailsTo('bob@customer.example')).toHaveLength(1);
  });

  it('answers alike for a new and an already confirmed address (no enumeration of subscribers)', async () => {
    const first = await subscribe('cy@customer.example');
    await form(linkOf(await mail.waitFor('cy@customer.example'), 'confirm'));
    const again = await subscribe('cy@customer.example');
    const fresh = await subscribe('dee@customer.example');
    expect([first.status, again.status, fresh.status]).toEqual([202, 202, 202]);
    expect(await again.json()).toEqual(await fresh.json());
  });

  it('refuses a malformed address with 400 and stores nothing', async () => {
    const before = (await app.context.database.db.selectFrom('status_subscribers').select('id').execute()).length;
    const res = await subscribe('not an address');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_HTTP_BAD_REQUEST');
    expect(await app.context.database.db.selectFrom('status_subscribers').select('id').execute()).toHaveLength(before);
  });

  it('limits subscriptions per client, so the endpoint cannot be turned into a mail cannon', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await subscribe(`victim${i}@elsewhere.example`)).status);
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(mail.messages.filter((m) => m.to.some((t) => /^victim[34]@/.test(t)))).toEqual([]);
  });
});
