import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialects } from '../../support/test-database.js';
import { blobKeys, compose, countRows, expectedBlobKeys, INBOUND_DOMAIN, RawSmtpClient, startSmtpHarness, type SmtpHarness } from './smtp-test-support.js';

const MAX_MESSAGE_BYTES = 64 * 1024;

describe.each(testDialects())('SMTP session rules on %s', (dialect) => {
  let h: SmtpHarness;
  let tenant: { tenant: string; apiKey: string };
  let inbox: { id: string; address: string };

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { env: { SEALPOST_SMTP_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) } });
    tenant = await h.app.createTenant();
    inbox = await h.createInbox(tenant.apiKey);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('offers STARTTLS and SIZE, never AUTH', async () => {
    const { client, greeting } = await RawSmtpClient.connect(h.smtp.port);
    expect(greeting.code).toBe(220);
    const plain = await client.command('EHLO client.sealpost.test');
    expect(plain.lines.map((l) => l.slice(4))).toEqual(expect.arrayContaining(['STARTTLS', `SIZE ${MAX_MESSAGE_BYTES}`]));
    expect(plain.text).not.toMatch(/AUTH/);
    expect((await client.command('AUTH PLAIN AGxvZ2luAHBhc3N3b3Jk')).code).toBe(500);
    await client.startTls({ ca: h.ca });
    const secure = await client.command('EHLO client.sealpost.test');
    expect(secure.text).not.toMatch(/STARTTLS|AUTH/);
    expect(secure.lines.map((l) => l.slice(4))).toContain(`SIZE ${MAX_MESSAGE_BYTES}`);
    await client.quit();
  });

  it('rejects MAIL FROM before STARTTLS', async () => {
    const { client } = await RawSmtpClient.connect(h.smtp.port);
    await client.command('EHLO client.sealpost.test');
    const mail = await client.command('MAIL FROM:<billing@vendor.example>');
    expect(mail.text).toBe('530 5.7.0 Must issue a STARTTLS command first');
    // Nothing of a transaction can start in the clear.
    expect((await client.command(`RCPT TO:<${inbox.address}>`)).code).toBe(503);
    expect((await client.command('DATA')).code).toBe(503);
    await client.quit();
  });

  it('refuses a client limited to TLS 1.1, and negotiates TLS 1.3 or 1.2', async () => {
    const { client: old } = await RawSmtpClient.connect(h.smtp.port);
    await old.command('EHLO client.sealpost.test');
    // The client would accept the old protocol (SECLEVEL=0), so only the server can refuse it.
    const refused = await old.startTls({ ca: h.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err,
    );
    expect(refused?.code).toMatch(/ERR_SSL_(TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL)/);
    old.destroy();

    const { client: modern } = await RawSmtpClient.connect(h.smtp.port);
    await modern.command('EHLO client.sealpost.test');
    expect(await modern.startTls({ ca: h.ca })).toBe('TLSv1.3');
    await modern.quit();
    const { client: tls12 } = await RawSmtpClient.connect(h.smtp.port);
    await tls12.command('EHLO client.sealpost.test');
    expect(await tls12.startTls({ ca: h.ca, maxVersion: 'TLSv1.2' })).toBe('TLSv1.2');
    await tls12.quit();
  });

  it('answers unknown recipients with 550 5.1.1 at RCPT TO, before any data', async () => {
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    const [token] = inbox.address.split('@');
    for (const address of [
      `aaaaaaaaaaaaaaaa@${INBOUND_DOMAIN}`,
      `${token}@other.example`,
      `${token}x@${INBOUND_DOMAIN}`,
      `postmaster@${INBOUND_DOMAIN}`,
      `${token}+bad"tag@${INBOUND_DOMAIN}`,
    ]) {
      expect((await client.command(`RCPT TO:<${address}>`)).text, address).toMatch(/^550 5\.1\.1 /);
    }
    expect((await client.command('DATA')).code).toBe(503);
    await client.quit();
  });

  it('refuses an over-size message with 552 5.3.4 and stores nothing', async () => {
    const payloads = await countRows(h.app, 'payloads');
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    // Declared too large: refused before any data.
    expect((await client.command(`MAIL FROM:<billing@vendor.example> SIZE=${MAX_MESSAGE_BYTES + 1}`)).code).toBe(552);
    // Undeclared: read to the end, then refused.
    const big = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'big', text: 'x', attachments: [{ filename: 'big.bin', content: Buffer.alloc(MAX_MESSAGE_BYTES, 7) }] });
    expect((await client.send('billing@vendor.example', [inbox.address], big)).text).toMatch(/^552 5\.3\.4 /);
    // The session goes on: a message within the limit is accepted.
    const small = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'small', text: 'ok' });
    expect((await client.send('billing@vendor.example', [inbox.address], small)).code).toBe(250);
    await client.quit();
    expect(await countRows(h.app, 'payloads')).toBe(payloads + 1);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
  });

  it('accepts at most 50 recipients per message (452 4.5.3 for more)', async () => {
    const [token] = inbox.address.split('@');
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    for (let i = 1; i <= 50; i++) expect((await client.command(`RCPT TO:<${token}+r${i}@${INBOUND_DOMAIN}>`)).code).toBe(250);
    expect((await client.command(`RCPT TO:<${token}+r51@${INBOUND_DOMAIN}>`)).text).toMatch(/^452 4\.5\.3 /);
    // A repeated recipient is not a new one.
    expect((await client.command(`RCPT TO:<${token}+r1@${INBOUND_DOMAIN}>`)).code).toBe(250);
    const reply = await client.data(await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'many', text: 'fifty' }));
    expect(reply.code).toBe(250);
    await client.quit();
    const envelope = await h.envelope(tenant.apiKey, reply.text);
    expect(envelope.data.smtp.recipients).toHaveLength(50);
    expect(envelope.data.smtp.recipients[49]!.tag).toBe('r50');
  });

  it('sends recipients of another tenant or DMARC policy to a separate transaction (452 4.5.3)', async () => {
    const other = await h.app.createTenant();
    const foreign = await h.createInbox(other.apiKey);
    const strict = await h.createInbox(tenant.apiKey, 'reject');
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    expect((await client.command(`RCPT TO:<${inbox.address}>`)).code).toBe(250);
    expect((await client.command(`RCPT TO:<${foreign.address}>`)).text).toMatch(/^452 4\.5\.3 /);
    expect((await client.command(`RCPT TO:<${strict.address}>`)).text).toMatch(/^452 4\.5\.3 /);
    await client.command('RSET');
    // In a transaction of its own the same recipient is fine.
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    expect((await client.command(`RCPT TO:<${foreign.address}>`)).code).toBe(250);
    await client.quit();
  });
});

describe.each(testDialects())('SMTP abuse limits on %s', (dialect) => {
  let h: SmtpHarness;
  let inbox: { address: string };
  let now = 1_000_000_000_000;

  beforeAll(async () => {
    // No short idle timeout here: a busy machine may pause longer than that between two commands.
    h = await startSmtpHarness(dialect, { limits: { maxConnectionsPerIp: 2, messagesPerMinutePerIp: 2 }, now: () => now });
    const tenant = await h.app.createTenant();
    inbox = await h.createInbox(tenant.apiKey);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a connection beyond the per-IP limit with 421 4.7.0', async () => {
    const first = await RawSmtpClient.connect(h.smtp.port);
    const second = await RawSmtpClient.connect(h.smtp.port);
    expect([first.greeting.code, second.greeting.code]).toEqual([220, 220]);
    const third = await RawSmtpClient.connect(h.smtp.port);
    expect(third.greeting.text).toMatch(/^421 4\.7\.0 /);
    await first.client.quit();
    // The slot is freed once the server has seen the close; poll for it.
    for (;;) {
      const next = await RawSmtpClient.connect(h.smtp.port);
      next.client.destroy();
      if (next.greeting.code === 220) break;
    }
    second.client.destroy();
  });

  it('limits messages per minute per IP with 421 4.7.0 at MAIL FROM', async () => {
    now += 60_000;
    const message = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'rate', text: 'x' });
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.send('billing@vendor.example', [inbox.address], message)).code).toBe(250);
    expect((await client.send('billing@vendor.example', [inbox.address], message)).code).toBe(250);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).text).toMatch(/^421 4\.7\.0 /);
    await expect(client.read()).rejects.toThrow(/closed/);
    // A new minute, a new allowance.
    now += 60_000;
    const again = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await again.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    await again.quit();
  });
});

describe.each(testDialects())('SMTP idle timeout on %s', (dialect) => {
  let h: SmtpHarness;

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { limits: { socketTimeoutMs: 300 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('closes an idle connection with 421', async () => {
    const { client } = await RawSmtpClient.connect(h.smtp.port);
    const reply = await client.read();
    expect(reply.code).toBe(421);
    await expect(client.read()).rejects.toThrow(/closed/);
  });
});
