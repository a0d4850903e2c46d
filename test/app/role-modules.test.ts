import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killSpawnedClis, spawnCli, waitForExit, waitForOutput } from '../support/cli.js';

const RECORDER = path.resolve(import.meta.dirname, '../support/loaded-modules.register.mjs');

/**
 * Packages an idle `start --role api` never runs, each loaded only by the role or the first use
 * that needs it (issue 16: every one of them is resident memory the API role carries under load).
 */
const NOT_IN_THE_API_ROLE = [
  // On SQLite (this test's database), node-postgres too.
  'pg',
  'smtp-server',
  'mailauth',
  'mailparser',
  'nodemailer',
  'openpgp',
  '@aws-sdk/client-kms',
  '@aws-sdk/client-s3',
  '@aws-sdk/lib-storage',
  '@aws-sdk/client-secrets-manager',
  '@node-saml/node-saml',
  'openid-client',
  '@simplewebauthn/server',
  'otplib',
  'markdown-it',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/exporter-trace-otlp-http',
];

/** The packages among `urls` (file URLs of loaded modules), by their node_modules folder. */
function packagesOf(urls: readonly string[]): Set<string> {
  const names = urls.flatMap((url) => {
    const at = url.lastIndexOf('/node_modules/');
    if (at < 0) return [];
    const [first = '', second = ''] = url.slice(at + '/node_modules/'.length).split('/');
    return [first.startsWith('@') ? `${first}/${second}` : first];
  });
  return new Set(names);
}

describe('modules of the api role', { timeout: 60_000 }, () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-role-modules-'));
  });
  afterAll(async () => {
    await killSpawnedClis();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts `start --role api` without loading the SMTP, mail, AWS, OpenPGP, SSO, WebAuthn, tracing or Markdown packages', async () => {
    const recorded = path.join(dir, 'loaded-modules.txt');
    const api = spawnCli(['start', '--role', 'api'], {
      NODE_OPTIONS: `--import=${RECORDER}`,
      SEALPOST_TEST_LOADED_MODULES: recorded,
      SEALPOST_DATA_DIR: path.join(dir, 'data'),
      SEALPOST_HTTP_HOST: '127.0.0.1',
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_LOG_LEVEL: 'warn',
      SEALPOST_PUBLIC_URL: 'https://sealpost.test',
    });
    await waitForOutput(api, /\(api\) listening on https:\/\/127\.0\.0\.1:\d+/);
    api.kill('SIGTERM');
    expect(await waitForExit(api)).toBe(0);

    const loaded = packagesOf(readFileSync(recorded, 'utf8').split('\n'));
    // The recorder sees what the role does load, so an empty list cannot pass for a lean one.
    expect([...loaded]).toEqual(expect.arrayContaining(['fastify', 'kysely', 'better-sqlite3']));
    expect(NOT_IN_THE_API_ROLE.filter((name) => loaded.has(name))).toEqual([]);
  });
});
