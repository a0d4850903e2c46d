import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import referenceCanonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { testDialects } from '../support/test-database.js';
import { cliEnvOf, DAY_MS, openReceiptsFixture, type ReceiptsFixture } from './receipts-fixture.js';

/** Each `sealpost` run is a cold start of Node and tsx: seconds apiece on a busy machine. */
const CLI_TEST_TIMEOUT_MS = 180_000;

describe('sealpost jcs', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('writes the RFC 8785 form of standard input, without a trailing newline', async () => {
    const input = '{\n  "b": [1E1, 0.000001, 1e-7, -0, 1e21, 12345678901234567890],\n  "a": {"é": "\\u20ac\\n", "e\\u0301": 1, "€": true, "\\ud83d\\ude00": 2, "\\uff61": 3},\n  "": null, "\ud83d\ude00": "x"\n}\n';
    const result = await runCli(['jcs'], {}, input);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(referenceCanonicalize(JSON.parse(input)));
    expect(result.stdout.endsWith('\n')).toBe(false);
  });

  it('refuses invalid JSON and values JCS forbids with exit 65 and a clear message', async () => {
    const cases: [string, RegExp][] = [
      ['{"a":', /invalid JSON/],
      ['', /invalid JSON/],
      ['{"a":1,"a":2}', /repeats a member name/],
      ['{"\\u00e9":1,"é":2}', /repeats a member name/],
      ['[1e400]', /outside the IEEE 754 double range.*SP_VERIFY_JCS_NON_FINITE/],
      ['["\\ud800"]', /lone surrogate.*SP_VERIFY_JCS_LONE_SURROGATE/],
      ['\ufeff{}', /byte order mark/],
      ['['.repeat(1001) + ']'.repeat(1001), /nested deeper than 1000 levels/],
    ];
    // Separate processes, run together: each case is a cold CLI start.
    const results = await Promise.all(cases.map(([input]) => runCli(['jcs'], {}, input)));
    results.forEach((result, i) => {
      const [input, message] = cases[i]!;
      expect(result.code, input).toBe(65);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^sealpost jcs: /);
      expect(result.stderr, input).toMatch(message);
    });
  });
});

describe('sealpost verify', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  let fx: ReceiptsFixture;
  let dir: string;
  let server: http.Server;
  let jwksUrl: string;
  const files = { jwks: '', receipt: '', headers: '', body: '' };
  let tenant: string;
  let otherTenant: string;

  beforeAll(async () => {
    fx = await openReceiptsFixture('sqlite');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-verify-cli-'));
    const services = fx.services();
    tenant = await fx.tenant();
    otherTenant = await fx.tenant();
    const payload = await fx.payload(tenant);
    const { receipt } = await services.receipts.prepareAccepted({ tenantId: tenant, messageId: payload.id, bodySha256: payload.bodySha256, now: Date.now() });
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = await services.signer.sign({ tenantId: tenant, webhookId: payload.id, timestamp, body: payload.body });
    const jwks = JSON.stringify(await services.keys.jwks(tenant));
    files.jwks = path.join(dir, 'jwks.json');
    files.receipt = path.join(dir, 'receipt.json');
    files.headers = path.join(dir, 'headers.json');
    files.body = path.join(dir, 'body.bin');
    writeFileSync(files.jwks, jwks);
    writeFileSync(files.receipt, JSON.stringify(receipt, null, 2));
    writeFileSync(files.headers, JSON.stringify({ 'Webhook-Id': payload.id, 'webhook-timestamp': String(timestamp), 'content-type': 'application/json', ...signed }));
    writeFileSync(files.body, payload.body);
    server = http.createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    await fx?.dispose();
  });

  it('accepts a valid receipt from a JWKS file, and from a loopback URL', async () => {
    const fromFile = await runCli(['verify', files.receipt, '--jwks', files.jwks, '--tenant', tenant], {});
    expect(fromFile.stderr).toBe('');
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(/^valid accepted receipt rcp_\w+ for msg_\w+, issued .*, signed by sp_sig_/);
    const fromUrl = await runCli(['verify', 'receipt', files.receipt, '--jwks', jwksUrl, '--tenant', tenant, '--json'], {});
    expect(fromUrl.code).toBe(0);
    expect(JSON.parse(fromUrl.stdout)).toMatchObject({ valid: true, kind: 'accepted' });
  });

  it('rejects a tampered receipt with exit 1 and the reason', async () => {
    const tampered = path.join(dir, 'tampered.json');
    const receipt = JSON.parse(readFileSync(files.receipt, 'utf8')) as Record<string, unknown>;
    writeFileSync(tampered, JSON.stringify({ ...receipt, issued_at: new Date(Date.parse(receipt.issued_at as string) - 1000).toISOString() }));
    const result = await runCli(['verify', tampered, '--jwks', files.jwks, '--tenant', tenant], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/INVALID \(SP_VERIFY_BAD_SIGNATURE\)/);
  });

  it('accepts a valid forwarded request and rejects one whose body changed', async () => {
    const ok = await runCli(['verify', 'webhook', '--headers', files.headers, '--body', files.body, '--jwks', files.jwks, '--tenant', tenant], {});
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^valid webhook msg_\w+ \(payload\.received\)/);
    const changed = path.join(dir, 'changed.bin');
    writeFileSync(changed, Buffer.from(readFileSync(files.body).toString('utf8').replace('4711', '4712')));
    const bad = await runCli(['verify', 'webhook', '--headers', files.headers, '--body', changed, '--jwks', jwksUrl, '--tenant', tenant, '--json'], {});
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ valid: false, code: 'SP_VERIFY_BAD_SIGNATURE' });
  });

  it('requires --tenant, and refuses a genuine receipt or request of another tenant', async () => {
    const noTenant = await runCli(['verify', files.receipt, '--jwks', files.jwks], {});
    expect(noTenant.code).not.toBe(0);
    expect(noTenant.stderr).toMatch(/--tenant/);
    const receipt = await runCli(['verify', files.receipt, '--jwks', files.jwks, '--tenant', otherTenant, '--json'], {});
    expect(receipt.code).toBe(1);
    expect(JSON.parse(receipt.stdout)).toMatchObject({ valid: false, code: 'SP_VERIFY_TENANT_MISMATCH' });
    const webhook = await runCli(['verify', 'webhook', '--headers', files.headers, '--body', files.body, '--jwks', files.jwks, '--tenant', otherTenant], {});
    expect(webhook.code).toBe(1);
    expect(webhook.stderr).toMatch(/INVALID \(SP_VERIFY_TENANT_MISMATCH\)/);
  });

  it('fetches JWKS only over https, or plain http to loopback; without keys it could not check (exit 2), which is not invalid (exit 1)', async () => {
    const result = await runCli(['verify', files.receipt, '--jwks', 'http://example.com/.well-known/jwks.json', '--tenant', tenant], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/could not check: .*only https:\/\/ URLs are fetched.*SP_ERR_SIGNING_JWKS_UNREADABLE/);
    const missing = await runCli(['verify', files.receipt, '--tenant', tenant, '--json'], {});
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ valid: null, code: 'input' });
    expect(missing.stderr).toMatch(/--jwks is required/);
    const unreadable = await runCli(['verify', path.join(dir, 'no-such-receipt.json'), '--jwks', files.jwks, '--tenant', tenant], {});
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toMatch(/could not check: .*no such file/);
    const usage = await runCli(['verify', files.receipt, '--jwks', files.jwks, '--tenant', tenant, '--no-such-option'], {});
    expect(usage.code).toBe(2);
  });
});

describe.each(testDialects())('sealpost keys on %s', { timeout: CLI_TEST_TIMEOUT_MS }, (dialect) => {
  let fx: ReceiptsFixture;

  beforeAll(async () => {
    fx = await openReceiptsFixture(dialect);
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it('keys rotate --signing --tenant --if-due from two processes at once makes exactly one new key, audited', async () => {
    // An active key made 100 days ago: due for replacement.
    const tenant = await fx.tenant();
    const original = (await fx.services({ now: () => Date.now() - 100 * DAY_MS }).keys.currentKey(tenant)).kid;
    const env = cliEnvOf(fx);
    const results = await Promise.all([1, 2].map(() => runCli(['keys', 'rotate', '--signing', '--tenant', tenant, '--if-due', '--json'], env)));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const outcomes = results.map((r) => (JSON.parse(r.stdout) as { signing: { tenant: string; rotated: boolean; active: string; replaced: string | null }[] }).signing[0]!);
    const winners = outcomes.filter((o) => o.rotated);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.replaced).toBe(original);
    expect(outcomes.map((o) => o.active)).toEqual([winners[0]!.active, winners[0]!.active]);

    const rows = await fx.handle.db.selectFrom('signing_keys').select(['kid', 'state']).where('tenant_id', '=', tenant).orderBy('activated_at').execute();
    expect(rows).toEqual([
      { kid: original, state: 'replaced' },
      { kid: winners[0]!.active, state: 'active' },
    ]);
    // One audit event per key change: the first key, and the one rotation the CLI made.
    const events = await fx.handle.db.selectFrom('audit_events').select(['event', 'actor_id', 'resource']).where('action', '=', 'signing_key.rotated').where('tenant_id', '=', tenant).orderBy('log_index').execute();
    expect(events.map((e) => e.resource)).toEqual([original, winners[0]!.active]);
    expect(events[1]!.actor_id).toBe('sealpost-cli');
    expect(JSON.parse(events[1]!.event!)).toMatchObject({ tenant, action: 'signing_key.rotated', details: { kid: winners[0]!.active, replaced: original, reason: 'rotated' } });

    const status = await runCli(['keys', 'status', '--tenant', tenant, '--json'], env);
    expect(status.code).toBe(0);
    const listed = (JSON.parse(status.stdout) as { signing_keys: { kid: string; state: string; exp: number; nbf: number }[] }).signing_keys;
    expect(listed.map((k) => [k.kid, k.state])).toEqual([
      [original, 'replaced'],
      [winners[0]!.active, 'active'],
    ]);
    const human = await runCli(['keys', 'status'], env);
    expect(human.stdout).toContain(`${tenant}  ${original}  REPLACED`);
    expect(human.stdout).toContain(`${tenant}  ${winners[0]!.active}  ACTIVE`);

    // Not due any more: a second scheduled-style run changes nothing; a forced one (every tenant) rotates.
    expect(JSON.parse((await runCli(['keys', 'rotate', '--signing', '--tenant', tenant, '--if-due', '--json'], env)).stdout)).toMatchObject({ signing: [{ tenant, rotated: false, reason: 'not-due' }] });
    const forced = await runCli(['keys', 'rotate', '--signing'], env);
    expect(forced.code).toBe(0);
    expect(forced.stdout.startsWith(`${tenant}: new signing key sp_sig_`)).toBe(true);
  });
});
