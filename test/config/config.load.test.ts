import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.load.js';

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('gives the embedded defaults with no settings at all', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ httpPort: 8443, smtpPort: 2525, keyProvider: 'local', blobStore: 'local', tlsMinVersion: 'TLSv1.2' });
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.database).toEqual({ dialect: 'sqlite', file: path.resolve('./data/sealpost.db') });
  });

  it('selects PostgreSQL from SEALPOST_DATABASE_URL', () => {
    expect(loadConfig({ SEALPOST_DATABASE_URL: 'postgres://u:p@db/sealpost' }).database).toEqual({ dialect: 'postgres', url: 'postgres://u:p@db/sealpost' });
  });

  it.each([
    ['SEALPOST_HTTP_PORT', 'eighty', /SEALPOST_HTTP_PORT="eighty" \(from SEALPOST_HTTP_PORT\): must be an integer port from 0 to 65535/],
    ['SEALPOST_HTTP_PORT', '70000', /must be an integer port/],
    ['SEALPOST_SMTP_PORT', '-1', /SEALPOST_SMTP_PORT="-1".*integer port/],
    ['SEALPOST_TLS_MIN_VERSION', 'TLSv1.1', /SEALPOST_TLS_MIN_VERSION="TLSv1.1".*must be one of TLSv1.2, TLSv1.3/],
    ['SEALPOST_KEY_PROVIDER', 'vault', /must be one of local, aws-kms/],
    ['SEALPOST_DATABASE_URL', 'mysql://root:hunter2@db/x', /SEALPOST_DATABASE_URL="mysql:\/\/root:\*\*\*@db\/x".*must be a URL starting with sqlite: or postgres: or postgresql:\/\//],
    ['SEALPOST_KEK_ROTATION_DAYS', '400', /must be an integer from 1 to 365/],
    ['SEALPOST_S3_FORCE_PATH_STYLE', 'yes', /must be true or false/],
    ['SEALPOST_LOG_LEVEL', 'verbose', /must be one of fatal, error/],
    ['SEALPOST_HTTP_PROT', '1', /SEALPOST_HTTP_PROT: unknown setting/],
  ])('rejects %s=%s with a message naming it, its value and what is allowed', (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('lists every problem at once, cross-field rules included', () => {
    const found = problems({ SEALPOST_HTTP_PORT: 'x', SEALPOST_TLS_CERT: '/etc/cert.pem', SEALPOST_KEY_PROVIDER: 'aws-kms', SEALPOST_BLOB_STORE: 's3' });
    expect(found).toEqual([
      expect.stringMatching(/^SEALPOST_HTTP_PORT/),
      'SEALPOST_TLS_CERT and SEALPOST_TLS_KEY: set both or neither',
      'SEALPOST_KMS_KEY_ID: required when SEALPOST_KEY_PROVIDER=aws-kms',
      'SEALPOST_S3_BUCKET: required when SEALPOST_BLOB_STORE=s3',
    ]);
  });

  it('refuses an audit origin that cannot name a log key', () => {
    expect(problems({ SEALPOST_AUDIT_ORIGIN: 'my log+1' })).toEqual([expect.stringMatching(/^SEALPOST_AUDIT_ORIGIN="my log\+1": must be one line without spaces or '\+'/)]);
    expect(problems({ SEALPOST_AUDIT_ORIGIN: 'relay.example.com/audit' })).toEqual([]);
  });

  it('reads the config file, with environment variables taking precedence', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-config-'));
    try {
      const file = path.join(dir, 'sealpost.json');
      writeFileSync(file, JSON.stringify({ http_port: 9443, smtp_port: 2526, log_level: 'warn' }));
      const config = loadConfig({ SEALPOST_CONFIG: file, SEALPOST_SMTP_PORT: '2600' });
      expect(config).toMatchObject({ httpPort: 9443, smtpPort: 2600, logLevel: 'warn' });

      writeFileSync(file, JSON.stringify({ http_port: 'x', htp_port: 1 }));
      expect(problems({ SEALPOST_CONFIG: file })).toEqual([
        `${file}: unknown setting "htp_port"`,
        `SEALPOST_HTTP_PORT="x" (from ${file} "http_port"): must be an integer port from 0 to 65535`,
      ]);
      writeFileSync(file, '{ not json');
      expect(problems({ SEALPOST_CONFIG: file })[0]).toMatch(/not valid JSON/);
      expect(problems({ SEALPOST_CONFIG: path.join(dir, 'missing.json') })[0]).toMatch(/cannot read the file \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('list settings', () => {
  it('parses the retry schedule into milliseconds', () => {
    expect(loadConfig({}).retrySchedule).toEqual([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(loadConfig({ SEALPOST_RETRY_SCHEDULE: '0,250ms,1s,1d' }).retrySchedule).toEqual([0, 250, 1000, 86_400_000]);
    expect(problems({ SEALPOST_RETRY_SCHEDULE: '5,10' })[0]).toMatch(/SEALPOST_RETRY_SCHEDULE="5,10".*comma-separated list of durations/);
  });

  it('parses the private-destination allowance as a switch or a CIDR list', () => {
    expect(loadConfig({}).allowPrivateDestinations).toBe(false);
    expect(loadConfig({ SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true' }).allowPrivateDestinations).toBe(true);
    expect(loadConfig({ SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '10.1.0.0/16, fd00::/8' }).allowPrivateDestinations).toEqual(['10.1.0.0/16', 'fd00::/8']);
    expect(problems({ SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '10.1.0.0/33' })[0]).toMatch(/list of CIDRs/);
  });
});
