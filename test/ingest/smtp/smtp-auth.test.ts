import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialects } from '../../support/test-database.js';
import {
  blobKeys,
  compose,
  countRows,
  expectedBlobKeys,
  fixedResolver,
  RawSmtpClient,
  startSmtpHarness,
  txt,
  type SmtpHarness,
} from './smtp-test-support.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

// signed.example: a DKIM key under selector "sel", SPF that never matches 127.0.0.1 (so DMARC
// rests on DKIM alone), and a DMARC policy of reject. broken.example: its DNS fails.
const resolver = fixedResolver({
  'TXT sel._domainkey.signed.example': txt(`v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`),
  'TXT signed.example': txt('v=spf1 ip4:192.0.2.1 -all'),
  'TXT _dmarc.signed.example': txt('v=DMARC1; p=reject'),
});
/** Lookups that reached the resolver behind the SMTP role's cache, per `<TYPE> <name>`. */
const lookups = new Map<string, number>();
const failingResolver: typeof resolver = async (name, rrtype) => {
  const key = `${rrtype} ${name.toLowerCase()}`;
  lookups.set(key, (lookups.get(key) ?? 0) + 1);
  if (name.toLowerCase().endsWith('broken.example')) throw Object.assign(new Error(`queryTxt ESERVFAIL ${name}`), { code: 'ESERVFAIL' });
  return resolver(name, rrtype);
};

async function signed(to: string, text: string): Promise<Buffer> {
  const raw = await compose({ from: 'Billing <billing@signed.example>', to, subject: 'Invoice', text, messageId: `<${text.length}.${Date.now()}@signed.example>` });
  const key = { signingDomain: 'signed.example', selector: 'sel', privateKey: privatePem };
  // mailauth 4 signs with the entries of signatureData; the top-level fields only satisfy its types.
  const { signatures, errors } = await dkimSign(raw, { ...key, signatureData: [key] });
  if (errors.length > 0 || !signatures.startsWith('DKIM-Signature:')) throw new Error(`signing failed: ${String(errors[0])}`);
  return Buffer.concat([Buffer.from(signatures), raw]);
}

/** The same message with its body changed after signing, as a tampering relay would. */
function altered(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace('Amount due: 100 EUR', 'Amount due: 999 EUR'), 'latin1');
}

describe.each(testDialects())('SMTP sender authentication on %s', (dialect) => {
  let h: SmtpHarness;
  let tenant: { tenant: string; apiKey: string };

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { resolver: failingResolver });
    tenant = await h.app.createTenant();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function deliver(to: string, message: Buffer, from = 'bounces@signed.example') {
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    const reply = await client.send(from, [to], message);
    await client.quit();
    return reply;
  }

  const authOf = async (reply: { text: string }): Promise<Record<string, string>> => (await h.envelope(tenant.apiKey, reply.text)).source.auth;

  it('records DKIM and DMARC pass for a correctly signed message', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const reply = await deliver(inbox.address, await signed(inbox.address, 'Amount due: 100 EUR'));
    expect(reply.code).toBe(250);
    expect(await authOf(reply)).toEqual({ spf: 'fail', dkim: 'pass', dmarc: 'pass', arc: 'none' });
  });

  it('records DKIM and DMARC failures for messages altered after signing, and keeps them in an accept-all inbox', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    // A changed signed header breaks the signature itself.
    const headerChanged = Buffer.from((await signed(inbox.address, 'Amount due: 100 EUR')).toString('latin1').replace('Subject: Invoice', 'Subject: Invoicf'), 'latin1');
    const first = await deliver(inbox.address, headerChanged);
    expect(first.code).toBe(250);
    expect(await authOf(first)).toEqual({ spf: 'fail', dkim: 'fail', dmarc: 'fail', arc: 'none' });
    // A changed body fails the body hash, which mailauth reports as neutral (RFC 6376 §6.1.3).
    const second = await deliver(inbox.address, altered(await signed(inbox.address, 'Amount due: 100 EUR')));
    expect(second.code).toBe(250);
    expect(await authOf(second)).toEqual({ spf: 'fail', dkim: 'neutral', dmarc: 'fail', arc: 'none' });
  });

  it('refuses mail failing DMARC with 550 5.7.1 in a reject-policy inbox, storing nothing', async () => {
    const inbox = await h.createInbox(tenant.apiKey, 'reject');
    const payloads = await countRows(h.app, 'payloads');
    const message = await signed(inbox.address, 'Amount due: 100 EUR');
    const refused = await deliver(inbox.address, altered(message));
    expect(refused.text).toMatch(/^550 5\.7\.1 /);
    expect(await countRows(h.app, 'payloads')).toBe(payloads);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
    // The genuine message gets through.
    const accepted = await deliver(inbox.address, message);
    expect(accepted.code).toBe(250);
    expect((await authOf(accepted)).dmarc).toBe('pass');
  });

  it('treats a DNS failure as temperror, which a reject-policy inbox does not refuse', async () => {
    const inbox = await h.createInbox(tenant.apiKey, 'reject');
    const message = await compose({ from: 'someone@broken.example', to: inbox.address, subject: 'dns down', text: 'hello' });
    const reply = await deliver(inbox.address, message, 'someone@broken.example');
    expect(reply.code).toBe(250);
    expect(await authOf(reply)).toMatchObject({ spf: 'temperror', dkim: 'none', dmarc: 'temperror' });
  });

  it('looks a sender domain that does not resolve up once, not once per message', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const before = lookups.get('TXT gone.example') ?? 0;
    for (let i = 0; i < 3; i++) {
      const message = await compose({ from: 'someone@gone.example', to: inbox.address, subject: `nx ${i}`, text: 'hello' });
      const reply = await deliver(inbox.address, message, 'someone@gone.example');
      expect(reply.code).toBe(250);
      expect(await authOf(reply)).toMatchObject({ spf: 'none', dmarc: 'none' });
    }
    expect((lookups.get('TXT gone.example') ?? 0) - before).toBe(1);
  });
});
