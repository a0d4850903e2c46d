import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealpostError } from '../../../src/errors/sealpost-error.js';
import type { BreachView } from '../../../src/ops/breach/breach.service.js';
import { cliEnvFor } from '../../audit/audit-test-support.js';
import { runCli } from '../../support/cli.js';
import { startMailCapture, type CapturedMail, type MailCapture } from '../../support/mail-capture.js';
import { TestClock } from '../../support/operators.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';

const HOUR = 3_600_000;
const ADMIN = { type: 'system', id: 'test' } as const;

/** The body of a captured message, quoted-printable soft breaks undone. */
const bodyOf = (mail: CapturedMail): string => mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
const ackTokenIn = (mail: CapturedMail): string => {
  const match = /\/v1\/breach-notices\/ack\?token=(spb_[A-Za-z0-9_-]{43})/.exec(bodyOf(mail));
  if (!match) throw new Error(`no acknowledgement link in: ${bodyOf(mail)}`);
  return match[1]!;
};

describe.each(testDialects())('the 72-hour breach workflow on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let mail: MailCapture;
  const clock = new TestClock(Date.now());
  // A: security contacts set; B: none, so its owner; C: nobody to write to, so staff must act.
  let a: string;
  let b: string;
  let c: string;
  let bystander: string;
  let breach: BreachView;
  let incidentId = '';

  const mailTo = (address: string) => mail.messages.filter((m) => m.to.includes(address));
  const events = (tenant: string) =>
    app.context.database.db.selectFrom('audit_events').select(['action', 'event']).where('tenant_id', '=', tenant).where('action', 'like', 'breach.%').orderBy('log_index').execute();
  const notice = (tenant: string) => breach.notices.find((n) => n.tenantId === tenant)!;
  const refresh = async () => {
    breach = await app.context.breaches.show(breach.id);
  };

  beforeAll(async () => {
    mail = await startMailCapture();
    app = await startTestApp(dialect, { env: { SEALPOST_OUTBOUND_SMTP_URL: mail.url }, overrides: { breachClock: clock.now, outboundMailTls: mail.tls } });
    a = (await app.createTenant()).tenant;
    b = (await app.createTenant()).tenant;
    c = (await app.createTenant()).tenant;
    bystander = (await app.createTenant()).tenant;
    await app.context.securityContacts.set(a, ['sec@tenant-a.example', 'ciso@tenant-a.example'], ADMIN);
    await app.context.identity.members.createOperator(b, 'owner@tenant-b.example', 'owner', ADMIN);
    await app.context.identity.members.createOperator(bystander, 'owner@bystander.example', 'owner', ADMIN);
    await app.context.staff.signIn.add('oncall@ops.example', ADMIN);
  });
  afterAll(async () => {
    await app?.close();
    await mail?.close();
  });

  it('refuses a declaration naming an unknown tenant or the deployment tenant, and records nothing', async () => {
    for (const tenants of [[a, 'ten_01JDG3ZZZZZZZZZZZZZZZZZZZZ'], [app.context.deploymentTenant.id]]) {
      const refused = await app.context.breaches.declare({ title: 'Leaked backups', summary: 'A backup bucket was public for a day.', tenants }, ADMIN).catch((err: unknown) => err);
      expect((refused as SealpostError).code).toBe('SP_ERR_BREACH_INVALID');
    }
    const unknownIncident = await app.context.breaches
      .declare({ title: 'Leaked backups', summary: 'A backup bucket was public for a day.', tenants: [a], incidentId: 'inc_01JDG3ZZZZZZZZZZZZZZZZZZZZ' }, ADMIN)
      .catch((err: unknown) => err);
    expect((unknownIncident as SealpostError).code).toBe('SP_ERR_BREACH_INVALID');
    expect(await app.context.breaches.list()).toEqual([]);
    expect(await events(a)).toEqual([]);
  });

  it("starts each tenant's 72-hour clock and mails the notice to its contacts, or its owners, for the status page incident it confirms", async () => {
    incidentId = (await app.context.status.incidents.open(ADMIN, { title: 'Exposed backup bucket', impact: 'major', components: ['delivery'], customerVisible: true, message: 'Investigating.' })).incident.id;
    breach = await app.context.breaches.declare(
      { title: 'Leaked backups', summary: 'A backup bucket was publicly readable from 2026-12-01 to 2026-12-02.', tenants: [a, b, c], incidentId },
      ADMIN,
    );
    expect(notice(a)).toMatchObject({ clockStartedAt: clock.ms, deadlineAt: clock.ms + 72 * HOUR, notifiedVia: 'email', recipients: 2, notifiedAt: clock.ms, evidence: 'audit_event' });
    expect(notice(b)).toMatchObject({ notifiedVia: 'email', recipients: 1, evidence: 'audit_event' });
    expect(notice(c)).toMatchObject({ notifiedAt: null, evidence: null });
    for (const address of ['sec@tenant-a.example', 'ciso@tenant-a.example', 'owner@tenant-b.example']) {
      const [message, ...more] = mailTo(address);
      expect(more).toEqual([]);
      expect(bodyOf(message!)).toContain('publicly readable from 2026-12-01');
      expect(bodyOf(message!)).toContain(breach.id);
    }
    expect(mailTo('owner@bystander.example')).toEqual([]);
    expect((await events(a)).map((e) => e.action)).toEqual(['breach.declared', 'breach.notice_sent']);
    expect((await events(c)).map((e) => e.action)).toEqual(['breach.declared']);
    expect(String((await events(app.context.deploymentTenant.id))[0]!.event)).toContain('"tenants":3');
    // The token is stored only as its hash.
    const row = await app.context.database.db.selectFrom('breach_notices').select(['ack_token_sha256']).where('tenant_id', '=', a).executeTakeFirstOrThrow();
    expect(row.ack_token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(bodyOf(mailTo('sec@tenant-a.example')[0]!)).not.toContain(row.ack_token_sha256);
  });

  it('sends nothing twice across scheduler runs, concurrent ones included', async () => {
    const before = mail.messages.length;
    await app.context.breaches.run();
    await Promise.all([app.context.breaches.run(), app.context.breaches.run()]);
    expect(mail.messages.length).toBe(before);
  });

  it('alerts staff at 48 h and at 66 h, once each, only about tenants not yet notified', async () => {
    clock.advance(47 * HOUR);
    await app.context.breaches.run();
    expect(mailTo('oncall@ops.example')).toEqual([]);
    clock.advance(HOUR);
    await app.context.breaches.run();
    await app.context.breaches.run();
    const first = mailTo('oncall@ops.example');
    expect(first).toHaveLength(1);
    expect(bodyOf(first[0]!)).toContain(c);
    expect(bodyOf(first[0]!)).not.toContain(a);
    expect(bodyOf(first[0]!)).not.toContain(b);
    clock.advance(18 * HOUR);
    await Promise.all([app.context.breaches.run(), app.context.breaches.run()]);
    await app.context.breaches.run();
    const both = mailTo('oncall@ops.example');
    expect(both).toHaveLength(2);
    expect(both[1]!.raw).toContain('66 h');
    await refresh();
    expect(notice(a)).toMatchObject({ alerted48hAt: null, alerted66hAt: null });
    expect(notice(c).alerted48hAt).not.toBeNull();
    expect(notice(c).alerted66hAt).not.toBeNull();
    expect((await events(c)).map((e) => e.action)).toEqual(['breach.declared', 'breach.deadline_alert', 'breach.deadline_alert']);
    expect((await events(a)).map((e) => e.action)).not.toContain('breach.deadline_alert');
  });

  it('records the acknowledgement from the one-time link, which a mail scanner fetching it does not trigger', async () => {
    const token = ackTokenIn(mailTo('sec@tenant-a.example')[0]!);
    const shown = await app.fetch(`/v1/breach-notices/ack?token=${token}`);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await shown.text()).toContain('<form method="post"');
    await refresh();
    expect(notice(a).acknowledgedAt).toBeNull();
    const acked = await app.fetch('/v1/breach-notices/ack', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
    expect(acked.status).toBe(200);
    await refresh();
    expect(notice(a).acknowledgedAt).toBe(clock.ms);
    expect((await events(a)).map((e) => e.action)).toContain('breach.notice_acknowledged');
  });

  it('refuses a used, forged or malformed acknowledgement token, and changes nothing', async () => {
    const used = ackTokenIn(mailTo('sec@tenant-a.example')[0]!);
    for (const token of [used, `spb_${'A'.repeat(43)}`]) {
      const res = await app.fetch('/v1/breach-notices/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_BREACH_ACK_INVALID');
    }
    expect((await app.fetch('/v1/breach-notices/ack?token=not-a-token')).status).toBe(400);
    expect((await events(a)).filter((e) => e.action === 'breach.notice_acknowledged')).toHaveLength(1);
  });

  it('records from the CLI a notice given another way and an acknowledgement, and shows them', async () => {
    const env = cliEnvFor(app.testDb);
    const notified = await runCli(['breach', 'notified', breach.id, '--tenant', c, '--json'], env);
    expect(notified.code, notified.stderr).toBe(0);
    expect(JSON.parse(notified.stdout)).toMatchObject({ tenant: c, notified_via: 'manual', evidence: 'audit_event' });
    const again = await runCli(['breach', 'notified', breach.id, '--tenant', c], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('SP_ERR_BREACH_ALREADY_NOTIFIED');
    const ack = await runCli(['breach', 'ack', breach.id, '--tenant', b, '--json'], env);
    expect(ack.code, ack.stderr).toBe(0);
    const shown = JSON.parse((await runCli(['breach', 'show', breach.id, '--json'], env)).stdout) as { incident_id: string; notices: { tenant: string; acknowledged_at: string | null }[] };
    expect(shown.incident_id).toBe(incidentId);
    expect(shown.notices.find((n) => n.tenant === b)?.acknowledged_at).not.toBeNull();
    // Notified: no more alerts for C.
    clock.advance(HOUR);
    const alerts = mailTo('oncall@ops.example').length;
    await app.context.breaches.run();
    expect(mailTo('oncall@ops.example')).toHaveLength(alerts);
  });

  it('refuses database edits that contradict the record, and shows a forged sent mark as without evidence', async () => {
    const db = app.context.database.db;
    const second = await app.context.breaches.declare({ title: 'Second breach', summary: 'Another confirmed exposure for testing.', tenants: [bystander] }, ADMIN);
    // The bystander's owner was mailed at once; forge the other way round on a fresh notice row.
    await db.updateTable('breach_notices').set({ notified_at: null, notified_by: null, notified_via: null, recipients: null, ack_token_sha256: null }).where('breach_id', '=', second.id).execute();
    const where = (q: ReturnType<typeof db.updateTable<'breach_notices'>>) => q.where('breach_id', '=', second.id);
    await expect(where(db.updateTable('breach_notices').set({ notified_at: clock.ms })).execute()).rejects.toThrow();
    await expect(where(db.updateTable('breach_notices').set({ acknowledged_at: clock.ms })).execute()).rejects.toThrow();
    await expect(where(db.updateTable('breach_notices').set({ deadline_at: clock.ms + 1_000 * HOUR })).execute()).rejects.toThrow();
    await expect(where(db.updateTable('breach_notices').set({ notified_at: clock.ms, notified_by: 'system:x', notified_via: 'carrier-pigeon', recipients: 1 })).execute()).rejects.toThrow();
    // A whole, consistent forgery is accepted by the table, but has no audit event behind it.
    await where(db.updateTable('breach_notices').set({ notified_at: clock.ms + 5, notified_by: 'system:breach-notices', notified_via: 'email', recipients: 1 })).execute();
    const shown = await app.context.breaches.show(second.id);
    expect(shown.notices[0]).toMatchObject({ notifiedVia: 'email', evidence: 'missing' });
  });
});
