import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

/** sysexits EX_CONFIG: a supervisor must not restart into the same mistake. */
const EXIT_CONFIG = 78;

describe('start-up configuration rules, shared by `start` and `config check`', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-start-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = { SEALPOST_DATA_DIR: path.join(dir, 'data'), SEALPOST_LOG_LEVEL: 'error' };

  it('requires SEALPOST_PUBLIC_URL when roles run in separate processes', async () => {
    for (const args of [['start', '--role', 'worker'], ['config', 'check', '--role', 'scheduler']]) {
      const result = await runCli(args, base);
      expect(result.code, args.join(' ')).toBe(EXIT_CONFIG);
      expect(result.stderr).toMatch(/^sealpost: Invalid configuration:\n {2}- SEALPOST_PUBLIC_URL: required when roles run in separate processes or the database is PostgreSQL/);
    }
    const checked = await runCli(['config', 'check', '--role', 'scheduler', '--json'], { ...base, SEALPOST_PUBLIC_URL: 'https://sealpost.example.com' });
    expect(checked.code, checked.stderr).toBe(0);
  });

  it('requires SEALPOST_PUBLIC_URL with PostgreSQL, even for one process running every role', async () => {
    const result = await runCli(['config', 'check'], { ...base, SEALPOST_DATABASE_URL: 'postgres://sealpost@127.0.0.1:1/none' });
    expect(result.code).toBe(EXIT_CONFIG);
    expect(result.stderr).toContain('SEALPOST_PUBLIC_URL: required');
  });

  it('refuses a missing TLS file in `config check` exactly as `start` does, with exit 78 and one line per problem', async () => {
    const env = { ...base, SEALPOST_TLS_CERT: path.join(dir, 'missing.crt'), SEALPOST_TLS_KEY: path.join(dir, 'missing.key') };
    const checked = await runCli(['config', 'check'], env);
    const started = await runCli(['start'], env);
    for (const result of [checked, started]) {
      expect(result.code).toBe(EXIT_CONFIG);
      expect(result.stderr).toBe(`sealpost: Invalid configuration:\n  - Cannot read the TLS certificate (SEALPOST_TLS_CERT) at ${path.join(dir, 'missing.crt')} (ENOENT)\n`);
    }
  });

  it('fails to start with one clear line, no stack trace, when the database is down or the port is taken', async () => {
    const down = await runCli(['start'], { ...base, SEALPOST_PUBLIC_URL: 'https://sealpost.test', SEALPOST_DATABASE_URL: 'postgres://sealpost@127.0.0.1:1/none' });
    expect(down.code).toBe(1);
    expect(down.stderr).toBe('sealpost: cannot reach the database (connect ECONNREFUSED 127.0.0.1:1); check SEALPOST_DATABASE_URL and that the database is running\n');

    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const taken = await runCli(['start'], { ...base, SEALPOST_HTTP_HOST: '127.0.0.1', SEALPOST_HTTP_PORT: String(port), SEALPOST_SMTP_PORT: '0' });
      expect(taken.code).toBe(1);
      expect(taken.stderr.split('\n').filter((line) => line.startsWith('sealpost: '))).toEqual([
        `sealpost: cannot listen on 127.0.0.1:${port}: it is already in use by another process (check SEALPOST_HTTP_PORT, SEALPOST_SMTP_PORT, SEALPOST_HEALTH_PORT)`,
      ]);
      expect(taken.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
