import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncryptedBlobStore } from '../../../src/storage/encrypted-blob-store.js';
import { testDialects } from '../../support/test-database.js';
import { blobKeys, compose, countRows, expectedBlobKeys, RawSmtpClient, startSmtpHarness, type SmtpHarness } from './smtp-test-support.js';
import { until } from '../../support/poll.js';


type Failure = { kind: 'at-once' | 'midway'; when: (key: string, call: number) => boolean } | undefined;

/** The real store, except that chosen writes fail: at once without reading, or after some of the data. */
function failingBlobs(real: EncryptedBlobStore, failure: () => Failure): EncryptedBlobStore {
  let calls = 0;
  const putEncrypted = async (key: string, body: Readable, context: string, tenant: string): Promise<{ size: number; sha256: string }> => {
    const f = failure();
    calls += 1;
    if (!f?.when(key, calls)) return real.putEncrypted(key, body, context, tenant);
    if (f.kind === 'at-once') throw new Error('injected: disk full');
    let seen = 0;
    const breaking = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        callback(seen > 4096 ? new Error('injected: disk failed midway') : null, chunk);
      },
    });
    body.on('error', (err) => breaking.destroy(err));
    return real.putEncrypted(key, body.pipe(breaking), context, tenant);
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'putEncrypted') return putEncrypted;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(testDialects())('SMTP storage failures on %s', (dialect) => {
  let h: SmtpHarness;
  let inbox: { address: string };
  let failure: Failure;
  let enqueueFails = false;

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, {
      blobs: (real) => failingBlobs(real, () => failure),
      enqueue: async () => {
        if (enqueueFails) throw new Error('injected: database write failed');
        return 0;
      },
    });
    const tenant = await h.app.createTenant();
    inbox = await h.createInbox(tenant.apiKey);
  });
  afterAll(async () => {
    await h?.close();
  });

  const message = () =>
    compose({
      from: 'billing@vendor.example',
      to: inbox.address,
      subject: 'with attachments',
      text: 'two files',
      attachments: [
        { filename: 'one.bin', content: randomBytes(50_000) },
        { filename: 'two.bin', content: randomBytes(50_000) },
      ],
    });

  async function deliverExpecting451(): Promise<void> {
    const payloads = await countRows(h.app, 'payloads');
    const attachments = await countRows(h.app, 'attachments');
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    const reply = await client.send('billing@vendor.example', [inbox.address], await message());
    expect(reply.text).toMatch(/^451 4\.3\.0 /);
    // The client may retry in the same session once storage is back.
    failure = undefined;
    enqueueFails = false;
    expect((await client.send('billing@vendor.example', [inbox.address], await message())).code).toBe(250);
    await client.quit();
    expect(await countRows(h.app, 'payloads')).toBe(payloads + 1);
    expect(await countRows(h.app, 'attachments')).toBe(attachments + 2);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
  }

  it('answers 451 4.3.0 and keeps nothing when the second attachment cannot be stored', async () => {
    let attachmentPuts = 0;
    failure = { kind: 'at-once', when: (key) => key.startsWith('attachments/') && ++attachmentPuts >= 2 };
    await deliverExpecting451();
  });

  it('answers 451 4.3.0 and keeps nothing when an attachment write fails midway', async () => {
    failure = { kind: 'midway', when: (key) => key.startsWith('attachments/') };
    await deliverExpecting451();
  });

  it('answers 451 4.3.0 and keeps nothing when the raw message cannot be stored', async () => {
    failure = { kind: 'midway', when: (key) => key.startsWith('raw/') };
    await deliverExpecting451();
  });

  it('answers 451 4.3.0 and keeps nothing when the database transaction fails', async () => {
    enqueueFails = true;
    await deliverExpecting451();
  });

  it('keeps nothing of a message whose client disconnects in the middle of DATA', async () => {
    const payloads = await countRows(h.app, 'payloads');
    const tmp = path.join(h.app.context.config.dataDir, 'blobs', '.tmp');
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.command('MAIL FROM:<billing@vendor.example>')).code).toBe(250);
    expect((await client.command(`RCPT TO:<${inbox.address}>`)).code).toBe(250);
    expect((await client.command('DATA')).code).toBe(354);
    const whole = (await message()).toString('latin1');
    client.write(whole.slice(0, Math.floor(whole.length / 2)));
    // Cut the connection once the server is writing blobs for the message, then wait for it to clean up.
    await until(() => readdirSync(tmp).length > 0);
    client.destroy();
    await until(() => readdirSync(tmp).length === 0);
    await until(async () => (await expectedBlobKeys(h.app)).join() === blobKeys(h.app).join());
    expect(await countRows(h.app, 'payloads')).toBe(payloads);
  });
});
