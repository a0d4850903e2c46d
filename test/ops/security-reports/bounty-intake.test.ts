import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp } from '../../../src/app/smtp.js';
import { startWorker } from '../../../src/app/worker.js';
import type { SmtpServerHandle } from '../../../src/ingest/smtp/smtp.server.js';
import { compose, fixedResolver, RawSmtpClient, txt } from '../../ingest/smtp/smtp-test-support.js';
import { startMailCapture, type MailCapture } from '../../support/mail-capture.js';
import { until } from '../../support/poll.js';
import { runCli } from '../../support/cli.js';
import { cliEnvFor } from '../../audit/audit-test-support.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';

const DOMAIN = 'in.sealpost.test';
const SECURITY = `security@${DOMAIN}`;
const ADMIN = { type: 'system', id: 'test' } as const;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
// researcher.example signs with DKIM and publishes DMARC; its SPF never matches 127.0.0.1, so DMARC rests on DKIM.
const resolver = fixedResolver({
  'TXT sel._domainkey.researcher.example': txt(`v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`),
  'TXT researcher.example': txt('v=spf1 ip4:192.0.2.1 -all'),
  'TXT _dmarc.researcher.example': txt('v=DMARC1; p=reject'),
});
const ARMOUR = '-----BEGIN PGP MESSAGE-----\n\nwcBMA0xHc2VhbHBvc3QBCACj5c0VZ2V0IHRoaXMgaXMgbm90IHJlYWwgY2lwaGVydGV4dA==\n=abcd\n-----END PGP MESSAGE-----\n';

async function signed(raw: Buffer): Promise<Buffer> {
  const key = { signingDomain: 'researcher.example', selector: 'sel', privateKey: privatePem };
  const { signatures, errors } = await dkimSign(raw, { ...key, signatureData: [key] });
  if (errors.length > 0) throw new Error(`signing failed: ${String(errors[0])}`);
  return Buffer.concat([Buffer.from(signatures), raw]);
}

/** A PGP/MIME message (RFC 3156 §4): a control part and the armoured ciphertext. */
function pgpMime(from: string): Buffer {
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${SECURITY}`,
      'Subject: encrypted report',
      `Message-ID: <pgpmime.${Date.now()}@unsigned.example>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"',
      '',
      '--b1',
      'Content-Type: application/pgp-encrypted',
      '',
      'Version: 1',
      '',
      '--b1',
      'Content-Type: application/octet-stream; name="encrypted.asc"',
      '',
      ARMOUR,
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

describe.each(testDialects())('bug-bounty intake at security@ on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let mail: MailCapture;
  let smtp: SmtpServerHandle;
  let worker: { stop(): Promise<void> };
  let receiver: http.Server;
  let ca: Buffer;
  const received: { type: string; tenant: string; data: { subject: string; smtp: { recipients: { address: string }[] } } }[] = [];

  const reports = () => app.context.database.db.selectFrom('security_reports').selectAll().orderBy('received_at').orderBy('id').execute();
  async function deliver(from: string, message: Buffer) {
    const client = await RawSmtpClient.secure(smtp.port, ca);
    const reply = await client.send(from, [SECURITY], message);
    await client.quit();
    return reply;
  }
  const settled = async (payload: string) => {
    await until(async () => (await reports()).some((r) => r.payload_id === payload && (r.acknowledged_at !== null || r.ack_skipped !== null)), { timeoutMs: 20_000 });
    return (await reports()).find((r) => r.payload_id === payload)!;
  };
  const payloadOf = (reply: { text: string }) => /msg_[0-9A-Z]{26}/.exec(reply.text)![0];

  beforeAll(async () => {
    mail = await startMailCapture();
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof received)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    app = await startTestApp(dialect, {
      env: { SEALPOST_INBOUND_DOMAIN: DOMAIN, SEALPOST_OUTBOUND_SMTP_URL: mail.url, SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true' },
      overrides: { outboundMailTls: mail.tls },
    });
    ca = readFileSync(path.join(app.context.config.dataDir, 'tls', 'self-signed.crt'));
    await app.context.destinations.create(app.context.deploymentTenant.id, { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/security` }, ADMIN);
    smtp = await startSmtp(app.context, { port: 0, host: '127.0.0.1', name: 'mx.sealpost.test', resolver });
    worker = startWorker(app.context, { idlePollMs: 50 });
  });
  afterAll(async () => {
    await worker?.stop();
    await smtp?.close();
    await app?.close();
    await mail?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  it("stores a report sent over STARTTLS in the deployment tenant, forwards it to the security team's destination, and acknowledges the authenticated reporter", async () => {
    const raw = await compose({ from: 'Ada <ada@researcher.example>', to: SECURITY, subject: 'XSS in the console', text: 'Steps to reproduce: …', messageId: `<r1.${Date.now()}@researcher.example>` });
    const reply = await deliver('bounces@researcher.example', await signed(raw));
    expect(reply.code).toBe(250);
    await until(() => received.length > 0, { timeoutMs: 20_000 });
    expect(received[0]).toMatchObject({ type: 'email.received', tenant: app.context.deploymentTenant.id, data: { subject: 'XSS in the console' } });
    const report = await settled(payloadOf(reply));
    expect(report).toMatchObject({ tenant_id: app.context.deploymentTenant.id, encrypted: 0, sender_authenticated: 1, ack_skipped: null });
    const ack = await mail.waitFor('ada@researcher.example');
    expect(ack.raw).toContain(report.id);
    // Nothing of the report is echoed back.
    expect(ack.raw).not.toContain('XSS in the console');
  });

  it('accepts a PGP-encrypted report, inline or PGP/MIME, and flags it encrypted', async () => {
    const inline = await compose({ from: 'ada@researcher.example', to: SECURITY, subject: 'encrypted', text: ARMOUR, messageId: `<r2.${Date.now()}@researcher.example>` });
    const first = await deliver('bounces@researcher.example', await signed(inline));
    expect(first.code).toBe(250);
    expect((await settled(payloadOf(first))).encrypted).toBe(1);
    const second = await deliver('someone@unsigned.example', pgpMime('someone@unsigned.example'));
    expect(second.code).toBe(250);
    expect((await settled(payloadOf(second))).encrypted).toBe(1);
  });

  it('sends no acknowledgement to a sender whose mail does not authenticate', async () => {
    const forged = await compose({ from: 'victim@unsigned.example', to: SECURITY, subject: 'hello', text: 'spam', messageId: `<r3.${Date.now()}@unsigned.example>` });
    const reply = await deliver('victim@unsigned.example', forged);
    expect(reply.code).toBe(250);
    const report = await settled(payloadOf(reply));
    expect(report).toMatchObject({ sender_authenticated: 0, ack_skipped: 'unauthenticated', acknowledged_at: null });
    expect(mail.messages.filter((m) => m.to.some((a) => a.endsWith('@unsigned.example')))).toEqual([]);
  });

  it('lists the reports from the CLI, flagged', async () => {
    const listed = await runCli(['deployment-tenant', 'reports', '--json'], cliEnvFor(app.testDb));
    expect(listed.code, listed.stderr).toBe(0);
    const rows = (JSON.parse(listed.stdout) as { data: { encrypted: boolean; ack_skipped: string | null }[] }).data;
    expect(rows.length).toBe((await reports()).length);
    expect(rows.some((r) => r.encrypted)).toBe(true);
    expect(rows.some((r) => r.ack_skipped === 'unauthenticated')).toBe(true);
  });

  it('acknowledges one address only so often (no mail cannon)', async () => {
    const replies = [];
    // Two a minute per address: five in under a minute span at most two windows, so at most four are answered.
    for (let i = 0; i < 5; i++) {
      const raw = await compose({ from: 'bob@researcher.example', to: SECURITY, subject: `report ${i}`, text: 'details', messageId: `<r4.${i}.${Date.now()}@researcher.example>` });
      replies.push(await deliver('bounces@researcher.example', await signed(raw)));
    }
    const outcomes = await Promise.all(replies.map((r) => settled(payloadOf(r))));
    expect(outcomes.filter((r) => r.acknowledged_at !== null).length).toBeLessThanOrEqual(4);
    expect(outcomes.some((r) => r.ack_skipped === 'rate_limited')).toBe(true);
  });
});
