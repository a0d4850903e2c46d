import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('sealpost backup on the command line', { timeout: 180_000 }, () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-backup-cli-'));
    env = {
      SEALPOST_DATA_DIR: path.join(dir, 'live'),
      SEALPOST_BACKUP_TARGET: path.join(dir, 'target'),
      SEALPOST_BACKUP_REPLICA: path.join(dir, 'replica'),
      SEALPOST_LOG_LEVEL: 'warn',
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates, lists, verifies and restores a snapshot, refusing a destination that holds data', async () => {
    const tenant = await runCli(['tenants', 'create', '--name', 'CLI backup'], env);
    expect(tenant.code, tenant.stderr).toBe(0);
    const created = await runCli(['backup', 'create', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };

    const listed = await runCli(['backup', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n').filter((line) => line.startsWith(id) && line.trimEnd().endsWith(' ok'))).toHaveLength(1);

    const verified = await runCli(['backup', 'verify', id, '--json'], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect((JSON.parse(verified.stdout) as { verified: unknown[] }).verified).toHaveLength(2);

    // Over the live deployment, which holds a tenant: refused, nothing written.
    const refused = await runCli(['backup', 'restore', id, '--to', env.SEALPOST_DATA_DIR!], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SP_ERR_BACKUP_TARGET_NOT_EMPTY');

    const badTo = await runCli(['backup', 'restore', id, '--to', 's3://bucket/x'], env);
    expect(badTo.code).toBe(1);
    expect(badTo.stderr).toContain('SP_ERR_CONFIG_INVALID');
    const badId = await runCli(['backup', 'verify', 'bak_../../etc'], env);
    expect(badId.code).toBe(1);
    expect(badId.stderr).toContain('SP_ERR_BACKUP_NOT_FOUND');

    const to = path.join(dir, 'restored');
    // The restoring deployment gets the live keyring, as an import of the recovery file would give it.
    cpSync(path.join(env.SEALPOST_DATA_DIR!, 'keyring'), path.join(to, 'keyring'), { recursive: true });
    const restored = await runCli(['backup', 'restore', id, '--to', to, '--from', 'replica'], { ...env, SEALPOST_DATA_DIR: to });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`restored ${id}`);
    // Not a terminal: plain progress lines on stderr, no redraws.
    expect(restored.stderr).toMatch(/verifying .* objects/);
    expect(restored.stderr).not.toContain('\r');
    expect(existsSync(path.join(to, 'sealpost.db'))).toBe(true);
  });

  it('refuses backups when the targets are not configured, and a half configuration at start', async () => {
    const none = await runCli(['backup', 'list'], { SEALPOST_DATA_DIR: path.join(dir, 'none') });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('SP_ERR_BACKUP_NOT_CONFIGURED');
    const half = await runCli(['backup', 'list'], { SEALPOST_DATA_DIR: path.join(dir, 'none'), SEALPOST_BACKUP_TARGET: path.join(dir, 't') });
    expect(half.code).toBe(78);
    expect(half.stderr).toContain('SEALPOST_BACKUP_REPLICA');
  });
});

