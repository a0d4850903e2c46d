import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('sealpost config check', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-config-check-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows where each secret came from and never its value', async () => {
    const secretFile = path.join(dir, 'database-url');
    writeFileSync(secretFile, 'postgres://sealpost:s3cr3t-Pa55@db.internal:5432/sealpost\n', { mode: 0o600 });
    // PostgreSQL needs a public URL (`config check` applies the start-up rules).
    const env = { SEALPOST_DATA_DIR: path.join(dir, 'data'), SEALPOST_DATABASE_URL_FILE: secretFile, SEALPOST_PUBLIC_URL: 'https://sealpost.example.com' };

    const human = await runCli(['config', 'check'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`SEALPOST_DATABASE_URL: file ${secretFile} (SEALPOST_DATABASE_URL_FILE)`);
    expect(human.stdout).toMatch(/^database: \{"dialect":"postgres"\}$/m);

    const json = await runCli(['config', 'check', '--json'], env);
    expect(json.code).toBe(0);
    const printed = JSON.parse(json.stdout) as { secrets: Record<string, string>; databaseUrl?: unknown };
    expect(printed.secrets).toEqual({
      SEALPOST_DATABASE_URL: `file ${secretFile} (SEALPOST_DATABASE_URL_FILE)`,
      SEALPOST_OUTBOUND_SMTP_URL: 'unset',
      SEALPOST_STAFF_OIDC_CLIENT_SECRET: 'unset',
    });
    expect(printed.databaseUrl).toBeUndefined();

    for (const out of [human.stdout, human.stderr, json.stdout, json.stderr]) {
      expect(out).not.toContain('s3cr3t');
      expect(out).not.toContain('db.internal');
    }
  });

  it('exits 78 naming an unreadable secret file', async () => {
    const missing = path.join(dir, 'nope');
    const result = await runCli(['config', 'check'], { SEALPOST_DATA_DIR: path.join(dir, 'data'), SEALPOST_DATABASE_URL_FILE: missing });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`SEALPOST_DATABASE_URL_FILE: cannot read the file ${missing} (ENOENT)`);
  });

  it('exits 78 naming the field and the reason of a bad trust config', async () => {
    const file = path.join(dir, 'trust.yaml');
    writeFileSync(file, 'version: 1\nreviewBy: "2027-01-01"\norganization: x\nsecurityTxt: { contact: ["http://example.com"] }\ncontacts: []\ncompliance: []\nbounty: { rewards: [], outOfScope: [] }\n');
    const result = await runCli(['config', 'check'], { SEALPOST_DATA_DIR: path.join(dir, 'data'), SEALPOST_TRUST_CONFIG: file });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`SEALPOST_TRUST_CONFIG=${file}: /securityTxt/contact/0: must be a mailto:, https: or tel: URI`);
  });
});
