import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Each `sealpost` run is a cold start of Node and tsx: seconds apiece on a busy machine. */
const CLI_TEST_TIMEOUT_MS = 180_000;

describe('sealpost verify audit-export', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  let app: TestApp;
  let dir: string;
  beforeAll(async () => {
    app = await startTestApp('sqlite');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-export-'));
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a real export offline and refuses it after one byte is changed', async () => {
    const { apiKey } = await app.createTenant('operation');
    for (let i = 0; i < 3; i++) await app.fetch('/v1/payloads', { token: apiKey });
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const res = await app.fetch('/v1/audit/exports', { method: 'POST', token: apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to, format: 'jsonl' }) });
    expect(res.status).toBe(200);
    const exported = Buffer.from(await res.arrayBuffer());
    const logKey = (await (await app.fetch('/.well-known/sealpost-log-key')).text()).trim();
    const file = path.join(dir, 'audit.jsonl');
    writeFileSync(file, exported);

    const ok = await runCli(['verify', 'audit-export', file, '--log-key', logKey, '--json'], {});
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, format: 'jsonl' });
    expect((JSON.parse(ok.stdout) as { events: number }).events).toBeGreaterThanOrEqual(3);

    const tampered = Buffer.from(exported);
    const at = tampered.indexOf('GET');
    tampered[at] = 'P'.charCodeAt(0);
    writeFileSync(file, tampered);
    const bad = await runCli(['verify', 'audit-export', file, '--log-key', logKey], {});
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/INVALID/);
  });
});
