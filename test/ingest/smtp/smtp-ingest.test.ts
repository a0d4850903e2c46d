import { createHash, randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulid } from '../../../src/crypto/ulid.js';
import { newInboxToken } from '../../../src/ingest/smtp/inbox-address.js';
import { inboxTokenSha256 } from '../../../src/ingest/smtp/inbox.repository.js';
import { testDialects } from '../../support/test-database.js';
import {
  acceptedId,
  blobKeys,
  compose,
  countRows,
  expectedBlobKeys,
  fixedResolver,
  INBOUND_DOMAIN,
  RawSmtpClient,
  startSmtpHarness,
  txt,
  type SmtpHarness,
} from './smtp-test-support.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe.each(testDialects())('SMTP ingress on %s', (dialect) => {
  let h: SmtpHarness;
  let tenant: { tenant: string; apiKey: string };
  let other: { tenant: string; apiKey: string };

  beforeAll(async () => {
    // vendor.example publishes SPF for 127.0.0.1, so mail from it passes SPF here.
    h = await startSmtpHarness(dialect, { resolver: fixedResolver({ 'TXT vendor.example': txt('v=spf1 ip4:127.0.0.1 -all') }) });
    tenant = await h.app.createTenant();
    other = await h.app.createTenant();
  });
  afterAll(async () => {
    await h?.close();
  });

  const transport = () =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: h.smtp.port,
      secure: false,
      requireTLS: true,
      name: 'mta.vendor.example',
      tls: { ca: h.ca, servername: 'localhost' },
    });

  it('stores a message with two attachments sent over STARTTLS as an email.received payload', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const [token, domain] = inbox.address.split('@');
    expect(token).toMatch(/^[a-z2-7]{16}$/);
    expect(domain).toBe(INBOUND_DOMAIN);
    const pdf = randomBytes(300_000);
    const csv = Buffer.from('sku;qty\nA-1;3\nB-2;5\n');
    const logo = randomBytes(2_000);
    const raw = await compose({
      from: 'ACME Billing <billing@vendor.example>',
      to: inbox.address,
      cc: 'Finance <finance@customer.example>',
      replyTo: 'support@vendor.example',
      subject: 'Invoice INV-4711 – März',
      messageId: '<inv-4711@vendor.example>',
      inReplyTo: '<order-99@customer.example>',
      date: new Date('2026-03-02T10:00:00Z'),
      text: 'Please find the invoice attached.',
      html: '<p>Please find the invoice attached.</p><img src="cid:logo@vendor">',
      headers: { 'X-Vendor-Ref': 'V-17' },
      attachments: [
        { filename: 'INV-4711.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'items.csv', content: csv, contentType: 'text/csv' },
        { filename: 'logo.png', content: logo, contentType: 'image/png', cid: 'logo@vendor' },
      ],
    });

    const info = await transport().sendMail({ envelope: { from: 'bounces@vendor.example', to: [inbox.address] }, raw });
    const id = acceptedId(info.response);
    expect(info.response).toMatch(/^250 2\.6\.0 /);

    const envelope = await h.envelope(tenant.apiKey, info.response);
    expect(envelope).toMatchObject({
      id,
      type: 'email.received',
      tenant: tenant.tenant,
      source: { channel: 'smtp', remote_ip: '127.0.0.1', tls: 'TLSv1.3', auth: { spf: 'pass', dkim: 'none', dmarc: 'none', arc: 'none' } },
      data: {
        from: { name: 'ACME Billing', address: 'billing@vendor.example' },
        to: [{ name: '', address: inbox.address }],
        cc: [{ name: 'Finance', address: 'finance@customer.example' }],
        reply_to: [{ name: '', address: 'support@vendor.example' }],
        subject: 'Invoice INV-4711 – März',
        date: '2026-03-02T10:00:00.000Z',
        message_id: '<inv-4711@vendor.example>',
        in_reply_to: '<order-99@customer.example>',
        text: 'Please find the invoice attached.',
        html: '<p>Please find the invoice attached.</p><img src="cid:logo@vendor">',
        truncated: [],
        raw_message: { size: raw.length, sha256: sha256(raw) },
        smtp: { mail_from: 'bounces@vendor.example', helo: 'mta.vendor.example', recipients: [{ address: inbox.address, inbox_id: inbox.id, tag: null }] },
      },
    });
    const headers = envelope.data.headers;
    expect(headers.find((x) => x.name === 'X-Vendor-Ref')).toEqual({ name: 'X-Vendor-Ref', value: 'V-17' });
    expect(headers.map((x) => x.name.toLowerCase())).toEqual(expect.arrayContaining(['from', 'to', 'subject', 'message-id', 'content-type']));

    // Both attachments and the inline image (first: it sits with the HTML), in message order,
    // with the hashes of the originals.
    const attachments = envelope.attachments;
    expect(attachments.map((a) => [a.filename, a.content_type, a.size, a.sha256])).toEqual([
      ['logo.png', 'image/png', logo.length, sha256(logo)],
      ['INV-4711.pdf', 'application/pdf', pdf.length, sha256(pdf)],
      ['items.csv', 'text/csv', csv.length, sha256(csv)],
    ]);
    expect(attachments[0]!.url).toBe(`https://localhost/v1/attachments/${attachments[0]!.id}`);
    expect(envelope.data.attachment_info).toEqual([
      { id: attachments[0]!.id, disposition: 'inline', content_id: 'logo@vendor' },
      { id: attachments[1]!.id, disposition: 'attachment', content_id: null },
      { id: attachments[2]!.id, disposition: 'attachment', content_id: null },
    ]);

    // Downloads decrypt to the original bytes.
    for (const [attachment, original] of [[attachments[0]!, logo], [attachments[1]!, pdf], [attachments[2]!, csv]] as const) {
      const res = await h.api(`/v1/attachments/${attachment.id}`, { token: tenant.apiKey });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(original)).toBe(true);
    }
    // The raw message comes back byte for byte.
    const rawRes = await h.api(`/v1/payloads/${id}/raw`, { token: tenant.apiKey });
    expect(rawRes.status).toBe(200);
    expect(rawRes.headers.get('content-type')).toBe('message/rfc822');
    expect(Buffer.from(await rawRes.arrayBuffer()).equals(raw)).toBe(true);

    // The outbox hook ran in the ingest transaction for this payload.
    expect(h.enqueued).toContainEqual({ tenantId: tenant.tenant, payloadId: id, type: 'email.received' });
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
  });

  it('keeps the plus-tag of <token>+tag@domain and matches the token case-insensitively', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const [token] = inbox.address.split('@');
    const tagged = `${token!.toUpperCase()}+Invoices.2026@${INBOUND_DOMAIN.toUpperCase()}`;
    const raw = await compose({ from: 'billing@vendor.example', to: tagged, subject: 'tagged', text: 'hi' });
    // A raw session, because nodemailer lower-cases the domain.
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    const reply = await client.send('billing@vendor.example', [tagged], raw);
    await client.quit();
    const envelope = await h.envelope(tenant.apiKey, reply.text);
    expect(envelope.data.smtp.recipients).toEqual([{ address: tagged, inbox_id: inbox.id, tag: 'Invoices.2026' }]);
  });

  it('accepts a bounce (null sender), with SPF judged on the HELO name', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const raw = await compose({ from: 'MAILER-DAEMON@vendor.example', to: inbox.address, subject: 'Undeliverable', text: 'bounce' });
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    const reply = await client.send('', [inbox.address], raw);
    await client.quit();
    const envelope = await h.envelope(tenant.apiKey, reply.text);
    expect(envelope.data.smtp.mail_from).toBe('');
    expect(envelope.source.auth.spf).toBe('none');
  });

  it('stores an inbox token only hashed and sealed, and mail to the address is still accepted', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const token = inbox.address.split('@')[0]!;
    const rows = await h.app.context.database.db.selectFrom('inboxes').selectAll().where('id', '=', inbox.id).execute();
    expect(rows).toHaveLength(1);
    const stored = Object.values(rows[0]!).map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v)));
    expect(stored.join('\n')).not.toContain(token);
    const listed = (await (await h.api('/v1/inboxes', { token: tenant.apiKey })).json()) as { data: { id: string; address: string }[] };
    expect(listed.data.find((i) => i.id === inbox.id)?.address).toBe(inbox.address);
    const raw = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'hashed', text: 'still arrives' });
    const reply = await transport().sendMail({ envelope: { from: 'billing@vendor.example', to: [inbox.address] }, raw });
    expect((await h.envelope(tenant.apiKey, reply.response)).data.smtp.recipients[0]?.inbox_id).toBe(inbox.id);
  });

  it('still delivers to an inbox whose plain token predates migration 0010, sealing it on first use', async () => {
    const token = newInboxToken();
    const id = `inb_${ulid()}`;
    const db = h.app.context.database.db;
    // What 0010 leaves of a live inbox: its plain token and the token's hash, not yet sealed.
    await db.insertInto('inboxes').values({ id, tenant_id: tenant.tenant, token, token_sha256: inboxTokenSha256(token), token_sealed: null, dmarc_policy: 'accept', created_at: Date.now(), deleted_at: null }).execute();
    const address = `${token}@${INBOUND_DOMAIN}`;
    const raw = await compose({ from: 'billing@vendor.example', to: address, subject: 'legacy', text: 'old address' });
    const reply = await transport().sendMail({ envelope: { from: 'billing@vendor.example', to: [address] }, raw });
    expect((await h.envelope(tenant.apiKey, reply.response)).data.smtp.recipients[0]?.inbox_id).toBe(id);
    const row = await db.selectFrom('inboxes').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(Object.values(row).map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v))).join('\n')).not.toContain(token);
    const listed = (await (await h.api('/v1/inboxes', { token: tenant.apiKey })).json()) as { data: { id: string; address: string }[] };
    expect(listed.data.find((i) => i.id === id)?.address).toBe(address);
  });

  it('answers a resent identical message with the same payload, storing nothing twice', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const raw = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'twice', text: 'same bytes', attachments: [{ filename: 'a.bin', content: randomBytes(1000) }] });
    const send = () => transport().sendMail({ envelope: { from: 'billing@vendor.example', to: [inbox.address] }, raw });
    const first = acceptedId((await send()).response);
    const payloads = await countRows(h.app, 'payloads');
    const second = acceptedId((await send()).response);
    expect(second).toBe(first);
    expect(await countRows(h.app, 'payloads')).toBe(payloads);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
  });

  it('manages inboxes per tenant: create, list, delete; another tenant sees 404', async () => {
    const created = await h.createInbox(tenant.apiKey, 'reject');
    expect(created).toMatchObject({ id: expect.stringMatching(/^inb_[0-9A-Z]{26}$/), dmarc_policy: 'reject' });

    const listed = (await (await h.api('/v1/inboxes', { token: tenant.apiKey })).json()) as { data: { id: string }[] };
    expect(listed.data.map((i) => i.id)).toContain(created.id);
    const otherList = (await (await h.api('/v1/inboxes', { token: other.apiKey })).json()) as { data: { id: string }[] };
    expect(otherList.data.map((i) => i.id)).not.toContain(created.id);

    expect((await h.api(`/v1/inboxes/${created.id}`, { method: 'DELETE', token: other.apiKey })).status).toBe(404);
    expect((await h.api(`/v1/inboxes/${created.id}`, { method: 'DELETE', token: tenant.apiKey })).status).toBe(204);
    expect((await h.api(`/v1/inboxes/${created.id}`, { method: 'DELETE', token: tenant.apiKey })).status).toBe(404);
    const after = (await (await h.api('/v1/inboxes', { token: tenant.apiKey })).json()) as { data: { id: string }[] };
    expect(after.data.map((i) => i.id)).not.toContain(created.id);

    // A deleted inbox's address is unknown again, at RCPT TO.
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    expect((await client.command(`RCPT TO:<${created.address}>`)).text).toMatch(/^550 5\.1\.1 /);
    await client.quit();
  });

  it('rejects an invalid dmarc_policy and requires the destinations:manage scope', async () => {
    const bad = await h.api('/v1/inboxes', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dmarc_policy: 'maybe' }) });
    expect(bad.status).toBe(400);
    const noAuth = await h.api('/v1/inboxes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noAuth.status).toBe(401);
  });

  it('serves the raw message only to the tenant that received it', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const raw = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'mine', text: 'private' });
    const id = acceptedId((await transport().sendMail({ envelope: { from: 'billing@vendor.example', to: [inbox.address] }, raw })).response);
    expect((await h.api(`/v1/payloads/${id}/raw`, { token: other.apiKey })).status).toBe(404);
    // An HTTPS payload has no raw e-mail.
    const posted = await h.api('/v1/payloads', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    const { id: httpId } = (await posted.json()) as { id: string };
    expect((await h.api(`/v1/payloads/${httpId}/raw`, { token: tenant.apiKey })).status).toBe(404);
  });
});
