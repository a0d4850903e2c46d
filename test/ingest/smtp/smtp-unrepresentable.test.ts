import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialects } from '../../support/test-database.js';
import { countRows, startSmtpHarness, type SmtpHarness } from './smtp-test-support.js';

describe.each(testDialects())('SMTP ingress with content canonical JSON or HTTP cannot carry, on %s', (dialect) => {
  let h: SmtpHarness;
  let tenant: { tenant: string; apiKey: string };
  let address: string;

  beforeAll(async () => {
    h = await startSmtpHarness(dialect);
    tenant = await h.app.createTenant();
    address = (await h.createInbox(tenant.apiKey)).address;
  });
  afterAll(async () => {
    await h?.close();
  });

  const send = (raw: string) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: h.smtp.port, secure: false, requireTLS: true, tls: { ca: h.ca, servername: 'localhost' } })
      .sendMail({ envelope: { from: 'vendor@vendor.example', to: [address] }, raw: Buffer.from(raw, 'utf8') });

  const message = (headers: string, body = 'hello') =>
    `From: vendor@vendor.example\r\nTo: ${address}\r\nMessage-ID: <m${Math.random()}@vendor.example>\r\n${headers}\r\n\r\n${body}\r\n`;

  it('refuses a message whose text decodes to a lone surrogate with a permanent 550 5.6.0, storing nothing', async () => {
    const before = await countRows(h.app, 'payloads');
    // UTF-16BE 0xD800 alone: a code unit with no partner, which no UTF-8 JSON can hold.
    const err = (await send(message('Subject: =?UTF-16BE?B?2AA=?=')).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/^550 5\.6\.0 .*"\/subject"/);
    expect(await countRows(h.app, 'payloads')).toBe(before);
  });

  it('stores an attachment whose Content-Type has non-Latin-1 characters as application/octet-stream, and it downloads', async () => {
    const boundary = 'b1';
    const raw = message(
      `MIME-Version: 1.0\r\nSubject: odd type\r\nContent-Type: multipart/mixed; boundary="${boundary}"`,
      `--${boundary}\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--${boundary}\r\nContent-Type: application/pdf€\r\nContent-Disposition: attachment; filename="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('%PDF-1.7').toString('base64')}\r\n--${boundary}--`,
    );
    const info = await send(raw);
    const envelope = await h.envelope(tenant.apiKey, info.response);
    const attachment = envelope.attachments.find((a) => a.filename === 'a.pdf')!;
    expect(attachment.content_type).toBe('application/octet-stream');
    const download = await h.api(`/v1/attachments/${attachment.id}`, { token: tenant.apiKey });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe('%PDF-1.7');
  });
});
