// DESIGN §6: `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in signed-bytes -sigfile
// sig.bin` must accept every signature Sealpost makes. These tests prove that the bytes and
// encodings this package verifies are the ones openssl checks, so a customer without Node
// can verify the same way.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalizeToBuffer, verifyReceipt, verifyWebhook } from '../src/index.js';
import { jwksOf, makeKey, NOW, signReceipt, signWebhook, TENANT, unsignedReceipt } from './fixtures.js';

const OPENSSL = '/usr/bin/openssl';
const run = promisify(execFile);

async function opensslVerifies(dir: string, pubPem: string, signedBytes: Buffer, signature: Buffer): Promise<boolean> {
  const files = { pub: path.join(dir, 'pub.pem'), data: path.join(dir, 'signed-bytes'), sig: path.join(dir, 'sig.bin') };
  writeFileSync(files.pub, pubPem);
  writeFileSync(files.data, signedBytes);
  writeFileSync(files.sig, signature);
  try {
    await run(OPENSSL, ['pkeyutl', '-verify', '-pubin', '-inkey', files.pub, '-rawin', '-in', files.data, '-sigfile', files.sig]);
    return true;
  } catch (err) {
    // openssl exits 1 on a failed verification; anything else is a broken test setup.
    if ((err as { code?: unknown }).code === 1) return false;
    throw err;
  }
}

describe.skipIf(!existsSync(OPENSSL))('openssl accepts the signatures this package verifies', () => {
  const key = makeKey('sk_2026q4');
  const pubPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sealpost-verify-openssl-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies a webhook v1a signature over <id>.<timestamp>.<body>', async () => {
    const signed = signWebhook(key);
    expect(verifyWebhook({ headers: signed.headers, body: signed.body, jwks: jwksOf(key), tenant: TENANT, now: NOW }).kid).toBe('sk_2026q4');

    // Rebuild what openssl needs from the wire alone: the headers and the body.
    const h = signed.headers;
    const signedBytes = Buffer.concat([Buffer.from(`${h['webhook-id']}.${h['webhook-timestamp']}.`), signed.body]);
    const signature = Buffer.from((h['webhook-signature'] as string).slice('v1a,'.length), 'base64');
    expect(await opensslVerifies(dir, pubPem, signedBytes, signature)).toBe(true);

    const tampered = Buffer.from(signedBytes);
    tampered[tampered.length - 2] = (tampered[tampered.length - 2] as number) ^ 0x01;
    expect(await opensslVerifies(dir, pubPem, tampered, signature)).toBe(false);
  });

  it('verifies a receipt signature over the canonical JSON without sig', async () => {
    const receipt = signReceipt(unsignedReceipt('delivered'), key);
    expect(verifyReceipt(receipt, jwksOf(key), { tenant: TENANT, now: NOW }).kid).toBe('sk_2026q4');

    const { sig, ...unsigned } = receipt;
    const signature = Buffer.from((sig as { value: string }).value, 'base64url');
    expect(await opensslVerifies(dir, pubPem, canonicalizeToBuffer(unsigned), signature)).toBe(true);
    expect(await opensslVerifies(dir, pubPem, Buffer.from(JSON.stringify(unsigned, null, 1)), signature)).toBe(false);
  });
});
