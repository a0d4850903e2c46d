// The README's "Verifying receipts" openssl commands, run exactly as printed there (with the
// POSIX shell and jq) against a request and receipts this server signed.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialects } from '../support/test-database.js';
import { hasOpenssl, openReceiptsFixture, type ReceiptsFixture } from './receipts-fixture.js';

const run = promisify(execFile);
const README = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
const hasJq = existsSync('/usr/bin/jq') || existsSync('/usr/local/bin/jq');

function snippet(name: 'openssl-webhook' | 'openssl-receipt'): string {
  const start = README.indexOf(`<!-- ${name}:start -->\n\`\`\`sh\n`);
  const end = README.indexOf(`\n\`\`\`\n<!-- ${name}:end -->`);
  if (start < 0 || end < start) throw new Error(`README has no ${name} snippet`);
  return README.slice(README.indexOf('```sh\n', start) + '```sh\n'.length, end);
}

/** Runs a README snippet with /bin/sh in `dir`; resolves with openssl's verdict. */
async function runSnippet(script: string, dir: string, env: Record<string, string> = {}): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('/bin/sh', ['-e', '-c', script], { cwd: dir, env: { PATH: process.env.PATH, ...env } });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { ok: false, output: `exit ${String(e.code)}: ${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe.each(testDialects())('README openssl commands on %s', (dialect) => {
  let fx: ReceiptsFixture;
  let dir: string;

  beforeAll(async () => {
    fx = await openReceiptsFixture(dialect);
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-readme-openssl-'));
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await fx?.dispose();
  });

  it.skipIf(!hasOpenssl || !hasJq)('verify a forwarded request, and refuse it with one body byte changed', async () => {
    const services = fx.services();
    const tenant = await fx.tenant();
    const payload = await fx.payload(tenant, { note: 'Grüße 😀', amount: 12.5 });
    await services.keys.rotate(tenant); // two keys in the set: the snippet must pick the right one
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = await services.signer.sign({ tenantId: tenant, webhookId: payload.id, timestamp, body: payload.body });
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(await services.keys.jwks(tenant), null, 2));
    writeFileSync(path.join(dir, 'body.bin'), payload.body);
    const env = { TENANT: tenant, WEBHOOK_ID: payload.id, WEBHOOK_TIMESTAMP: String(timestamp), WEBHOOK_SIGNATURE: signed['webhook-signature']!, KID: signed['sealpost-key-id']! };

    const good = await runSnippet(snippet('openssl-webhook'), dir, env);
    expect(good.output).toContain('Signature Verified Successfully');
    expect(good.ok).toBe(true);

    const tampered = Buffer.from(payload.body);
    tampered[20] = tampered[20]! ^ 0x01;
    writeFileSync(path.join(dir, 'body.bin'), tampered);
    const bad = await runSnippet(snippet('openssl-webhook'), dir, env);
    expect(bad.ok).toBe(false);
    expect(bad.output).toContain('Signature Verification Failure');

    // A genuine request of this tenant, checked by a receiver of another tenant: refused.
    writeFileSync(path.join(dir, 'body.bin'), payload.body);
    const replayed = await runSnippet(snippet('openssl-webhook'), dir, { ...env, TENANT: await fx.tenant() });
    expect(replayed.ok).toBe(false);
    expect(replayed.output).toContain('signed for another tenant');
  });

  it.skipIf(!hasOpenssl || !hasJq)('verify accepted and delivered receipts as served, and refuse an altered one', async () => {
    const services = fx.services();
    const tenant = await fx.tenant();
    const payload = await fx.payload(tenant);
    const accepted = await services.receipts.prepareAccepted({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, now: Date.now() });
    const delivered = await services.receipts.prepareDelivered({
      tenantId: tenant,
      messageId: payload.id,
      deliveryId: 'dlv_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      destinationId: 'dst_01JDG3ZK8Q4W7N2M5R9T6V3X1Y',
      attempt: 3,
      status: 202,
      bodySha256: payload.bodySha256,
    });
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(await services.keys.jwks(tenant)));
    for (const { receipt } of [accepted, delivered]) {
      writeFileSync(path.join(dir, 'receipt.json'), JSON.stringify(receipt, null, 2));
      const good = await runSnippet(snippet('openssl-receipt'), dir, { TENANT: tenant });
      expect(good.output, receipt.kind).toContain('Signature Verified Successfully');
      expect(good.ok).toBe(true);
      const theirs = await runSnippet(snippet('openssl-receipt'), dir, { TENANT: await fx.tenant() });
      expect(theirs.ok).toBe(false);
      expect(theirs.output).toContain('signed for another tenant');
    }
    writeFileSync(path.join(dir, 'receipt.json'), JSON.stringify({ ...delivered.receipt, attempt: 1 }));
    expect((await runSnippet(snippet('openssl-receipt'), dir, { TENANT: tenant })).ok).toBe(false);
  });
});
