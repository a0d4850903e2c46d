import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncryptedBlobStore } from '../../../src/storage/encrypted-blob-store.js';
import { testDialects } from '../../support/test-database.js';
import { startSmtpHarness, type SmtpHarness } from './smtp-test-support.js';

const BIG = 25 * 1024 * 1024;
const CHUNK = 256 * 1024;

/**
 * The real blob store, noting for the attachment's put how many attachment bytes the client had
 * produced when the first plaintext byte reached the store.
 */
function observingBlobs(real: EncryptedBlobStore, produced: () => number, seen: { atFirstByte?: number }): EncryptedBlobStore {
  const putEncrypted = (key: string, body: Readable, context: string, tenant: string): Promise<{ size: number; sha256: string }> => {
    if (!key.startsWith('attachments/')) return real.putEncrypted(key, body, context, tenant);
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen.atFirstByte ??= produced();
        callback(null, chunk);
      },
    });
    body.on('error', (err) => tap.destroy(err));
    return real.putEncrypted(key, body.pipe(tap), context, tenant);
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'putEncrypted') return putEncrypted;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(testDialects())('SMTP ingress of a 25 MB attachment on %s', (dialect) => {
  let h: SmtpHarness;
  let tenant: { tenant: string; apiKey: string };
  let produced = 0;
  const seen: { atFirstByte?: number } = {};

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { blobs: (real) => observingBlobs(real, () => produced, seen) });
    tenant = await h.app.createTenant();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('streams the attachment to the store while the client is still sending, and stores it intact', async () => {
    const inbox = await h.createInbox(tenant.apiKey);
    const hash = createHash('sha256');
    const content = new Readable({
      read() {
        if (produced >= BIG) return void this.push(null);
        const chunk = randomBytes(Math.min(CHUNK, BIG - produced));
        produced += chunk.length;
        hash.update(chunk);
        this.push(chunk);
      },
    });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: h.smtp.port, requireTLS: true, tls: { ca: h.ca, servername: 'localhost' } });
    const info = (await transport.sendMail({
      from: 'billing@vendor.example',
      to: inbox.address,
      subject: 'Archive',
      text: 'The archive is attached.',
      attachments: [{ filename: 'archive.bin', content, contentType: 'application/octet-stream' }],
    })) as { response: string };
    transport.close();
    expect(info.response).toMatch(/^250 /);
    // Had the message been buffered whole before parsing, the client would have produced every
    // byte by the time the store saw the first one.
    expect(seen.atFirstByte).toBeDefined();
    expect(seen.atFirstByte!).toBeLessThan(BIG);

    const digest = hash.digest('hex');
    const envelope = await h.envelope(tenant.apiKey, info.response);
    expect(envelope.attachments).toHaveLength(1);
    expect(envelope.attachments[0]).toMatchObject({ filename: 'archive.bin', size: BIG, sha256: digest });
    const download = await h.api(`/v1/attachments/${envelope.attachments[0]!.id}`, { token: tenant.apiKey });
    expect(download.status).toBe(200);
    const downloaded = createHash('sha256');
    for await (const chunk of download.body!) downloaded.update(chunk as Uint8Array);
    expect(downloaded.digest('hex')).toBe(digest);
  });
});
