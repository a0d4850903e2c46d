import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EncryptedBlobStore } from '../../../src/storage/encrypted-blob-store.js';
import { testDialects } from '../../support/test-database.js';
import { blobKeys, compose, expectedBlobKeys, RawSmtpClient, startSmtpHarness, type SmtpHarness } from './smtp-test-support.js';

/** Polls (never sleeps a fixed time) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * The real store, except that the first raw message's put attaches to its stream only once the stream
 * has been destroyed: what happens when fetching the data key is slower than an over-size message
 * (the limit is far below one stream buffer, so the message is over it before backpressure stops it).
 */
function lateRawBlobs(real: EncryptedBlobStore, delayed: string[]): EncryptedBlobStore {
  const putEncrypted = async (key: string, body: Readable, context: string): Promise<{ size: number; sha256: string }> => {
    if (key.startsWith('raw/') && delayed.length === 0) {
      delayed.push(key);
      await until(() => body.destroyed);
    }
    return real.putEncrypted(key, body, context);
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
  const delayed: string[] = [];
  const uncaught = vi.fn();
  const unhandled = vi.fn();

  beforeAll(async () => {
    h = await startSmtpHarness(dialect, { limits: { maxMessageBytes: 2_000 }, blobs: (real) => lateRawBlobs(real, delayed) });
    const tenant = await h.app.createTenant();
    inbox = await h.createInbox(tenant.apiKey);
    process.on('uncaughtException', uncaught);
    process.on('unhandledRejection', unhandled);
  });
  afterEach(() => {
    uncaught.mockClear();
    unhandled.mockClear();
  });
  afterAll(async () => {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', unhandled);
    await h?.close();
  });

  it('answers an over-size message 552 5.3.4 without an uncaught stream error, keeping no blobs', async () => {
    const message = await compose({
      from: 'billing@vendor.example',
      to: inbox.address,
      subject: 'too big',
      text: 'see attachment',
      attachments: [{ filename: 'big.bin', content: randomBytes(200_000) }],
    });
    const client = await RawSmtpClient.secure(h.smtp.port, h.ca);
    const reply = await client.send('billing@vendor.example', [inbox.address], message);
    expect(reply.text).toMatch(/^552 5\.3\.4 /);
    // The session survives: the next small message is accepted.
    const small = await compose({ from: 'billing@vendor.example', to: inbox.address, subject: 'small', text: 'hello' });
    expect((await client.send('billing@vendor.example', [inbox.address], small)).code).toBe(250);
    await client.quit();
    expect(delayed).toHaveLength(1);
    expect(blobKeys(h.app)).toEqual(await expectedBlobKeys(h.app));
    expect(uncaught).not.toHaveBeenCalled();
    expect(unhandled).not.toHaveBeenCalled();
  });
});
