import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EncryptedBlobStore } from '../../../src/storage/encrypted-blob-store.js';
import { testDialects } from '../../support/test-database.js';
import { blobKeys, compose, countRows, expectedBlobKeys, RawSmtpClient, startSmtpHarness, type SmtpHarness } from './smtp-test-support.js';

/** Polls (never sleeps a fixed time) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * What happens when fetching the data key is slower than a failure of the message:
 * - `late-raw`: the first raw message's put attaches to its stream only once the stream has been
 *   destroyed (an over-size message: the limit is far below one stream buffer, so the message is
 *   over it before backpressure stops it);
 * - `late-attachment`: the second attachment's put waits the same way, and the first attachment's
 *   put, having read its content, fails once the second one is in flight.
 */
type Mode = 'late-raw' | 'late-attachment' | undefined;

function lateBlobs(real: EncryptedBlobStore, mode: () => Mode, delayed: string[]): EncryptedBlobStore {
  let attachmentPuts = 0;
  const putEncrypted = async (key: string, body: Readable, context: string, tenant: string): Promise<{ size: number; sha256: string }> => {
    const m = mode();
    const attachment = key.startsWith('attachments/') ? ++attachmentPuts : 0;
    if (m === 'late-attachment' && attachment > 0 && delayed.length === 0 && attachmentPuts % 2 === 1) {
      for await (const chunk of body) void chunk;
      await until(() => delayed.length > 0);
      throw new Error('injected: disk full');
    }
    if (delayed.length === 0 && ((m === 'late-raw' && key.startsWith('raw/')) || (m === 'late-attachment' && attachment > 0))) {
      delayed.push(key);
      await until(() => body.destroyed);
    }
    return real.putEncrypted(key, body, context, tenant);
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'putEncrypted') return putEncrypted;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(testDialects())('SMTP abort while a blob store is not yet reading on %s', (dialect) => {
  let h: SmtpHarness;
  let inbox: { address: string };
  let mode: Mode;
  const delayed: string[] = [];
  const uncaught = vi.fn();
  const unhandled = vi.fn();

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { limits: { maxMessageBytes: 8_000 }, blobs: (real) => lateBlobs(real, () => mode, delayed) });
    const tenant = await h.app.createTenant();
    inbox = await h.createInbox(tenant.apiKey);
    process.on('uncaughtException', uncaught);
    process.on('unhandledRejection', unhandled);
  });
  afterEach(() => {
    mode = undefined;
    delayed.length = 0;
    uncaught.mockClear();
    unhandled.mockClear();
  });
  afterAll(async () => {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', unhandled);
    await h?.close();
  });

  /** The session survives: the next small message is accepted, and no blob outlives its message. */
  async function expectCleanAfter(client: RawSmtpClient): Promise<void> {
    mode = undefined;
    const small = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'small', text: 'hello' });
    expect((await client.send('billing@vendor.example', [inbox.address], small)).code).toBe(250);
    await client.quit();
    expect(delayed).toHaveLength(1);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
    expect(uncaught).not.toHaveBeenCalled();
    expect(unhandled).not.toHaveBeenCalled();
  }

  it('answers an over-size message 552 5.3.4 without an uncaught stream error, keeping no blobs', async () => {
    mode = 'late-raw';
    const message = await compose({
      from: 'billing@vendor.example',
      to: inbox.address,
      subject: 'too big',
      text: 'see attachment',
      attachments: [{ filename: 'big.bin', content: randomBytes(200_000) }],
    });
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.send('billing@vendor.example', [inbox.address], message)).text).toMatch(/^552 5\.3\.4 /);
    await expectCleanAfter(client);
  });

  it('answers 451 4.3.0 without an uncaught stream error when an attachment store fails before the next one reads', async () => {
    mode = 'late-attachment';
    const payloads = await countRows(h.app, 'payloads');
    const message = await compose({
      from: 'billing@vendor.example',
      to: inbox.address,
      subject: 'store fails',
      text: 'two small files',
      attachments: [
        { filename: 'one.bin', content: randomBytes(1_000) },
        { filename: 'two.bin', content: randomBytes(1_000) },
      ],
    });
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    expect((await client.send('billing@vendor.example', [inbox.address], message)).text).toMatch(/^451 4\.3\.0 /);
    expect(await countRows(h.app, 'payloads')).toBe(payloads);
    await expectCleanAfter(client);
  });
});
