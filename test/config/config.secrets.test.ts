import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadConfigWithSecrets } from '../../src/config/config.load.js';
import { CONFIG_FIELDS, type FieldSpec } from '../../src/config/config.schema.js';
import { resolveAwsSecrets } from '../../src/config/config.secrets.js';

const PG_URL = 'postgres://sealpost:s3cr3t-Pa55@db.internal:5432/sealpost';
const SECRET_FIELDS = (Object.values(CONFIG_FIELDS) as FieldSpec[]).filter((f) => f.secret === true);

async function problemsOf(load: () => unknown): Promise<string[]> {
  try {
    await load();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('secret settings', () => {
  let dir: string;
  const file = (name: string, content: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-secrets-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('marks the database URL as a secret', () => {
    expect(SECRET_FIELDS.map((f) => f.env)).toContain('SEALPOST_DATABASE_URL');
  });

  it.each(SECRET_FIELDS.map((f) => [f.env]))('reads %s from its _FILE form, dropping one trailing newline, and reports the file as its source', (env) => {
    const secretFile = file(`${env}.txt`, `${PG_URL}\n`);
    const spec = SECRET_FIELDS.find((f) => f.env === env)!;
    const config = loadConfig({ [`${env}_FILE`]: secretFile }) as unknown as Record<string, unknown> & { secretSources: { setting: string; source: string }[] };
    const key = Object.entries(CONFIG_FIELDS).find(([, f]) => f === spec)![0];
    expect(config[key]).toBe(PG_URL);
    expect(config.secretSources).toContainEqual({ setting: env, source: `file ${secretFile} (${env}_FILE)` });
  });

  it('reads the _file form from the config file too', () => {
    const secretFile = file('db-url', PG_URL);
    const configFile = file('sealpost.json', JSON.stringify({ database_url_file: secretFile }));
    const config = loadConfig({ SEALPOST_CONFIG: configFile });
    expect(config.database).toEqual({ dialect: 'postgres', url: PG_URL });
    expect(config.secretSources).toContainEqual({ setting: 'SEALPOST_DATABASE_URL', source: `file ${secretFile} (${configFile} "database_url_file")` });
  });

  it('reports an unset secret and a plain environment variable as such', () => {
    expect(loadConfig({}).secretSources).toContainEqual({ setting: 'SEALPOST_DATABASE_URL', source: 'unset' });
    expect(loadConfig({ SEALPOST_DATABASE_URL: PG_URL }).secretSources).toContainEqual({ setting: 'SEALPOST_DATABASE_URL', source: 'SEALPOST_DATABASE_URL' });
  });

  it('refuses a secret set both directly and as a file, a missing file and an empty one, naming the file and never a value', async () => {
    const secretFile = file('both', PG_URL);
    expect(await problemsOf(() => loadConfig({ SEALPOST_DATABASE_URL: PG_URL, SEALPOST_DATABASE_URL_FILE: secretFile }))).toEqual([
      'SEALPOST_DATABASE_URL and SEALPOST_DATABASE_URL_FILE: set one of them, not both',
    ]);
    const missing = path.join(dir, 'missing');
    expect(await problemsOf(() => loadConfig({ SEALPOST_DATABASE_URL_FILE: missing }))).toEqual([`SEALPOST_DATABASE_URL_FILE: cannot read the file ${missing} (ENOENT)`]);
    const empty = file('empty', '\n');
    expect(await problemsOf(() => loadConfig({ SEALPOST_DATABASE_URL_FILE: empty }))).toEqual([`SEALPOST_DATABASE_URL_FILE: the file ${empty} is empty`]);
  });

  it('never echoes a bad secret value from a file', async () => {
    const notUrl = file('not-a-url', 'hunter2-the-password');
    const found = await problemsOf(() => loadConfig({ SEALPOST_DATABASE_URL_FILE: notUrl }));
    expect(found).toEqual([`SEALPOST_DATABASE_URL (from file ${notUrl} (SEALPOST_DATABASE_URL_FILE)): must be a URL starting with sqlite: or postgres: or postgresql://`]);
    const wrongScheme = file('mysql', 'mysql://root:hunter2@db/x');
    const again = await problemsOf(() => loadConfig({ SEALPOST_DATABASE_URL_FILE: wrongScheme }));
    expect(again.join('\n')).toMatch(/mysql:\/\/root:\*\*\*@db\/x/);
    expect([...found, ...again].join('\n')).not.toContain('hunter2');
  });

  it('accepts a _FILE form only for secret settings', async () => {
    expect(await problemsOf(() => loadConfig({ SEALPOST_HTTP_PORT_FILE: '/dev/null' }))).toEqual(['SEALPOST_HTTP_PORT_FILE: unknown setting (check the spelling)']);
  });
});

describe('AWS Secrets Manager references', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  it('resolves aws-sm://<secret-id> to the secret string, and reports the secret as the source', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'prod/sealpost/db-url' }).resolves({ SecretString: PG_URL });
    const config = await loadConfigWithSecrets({ SEALPOST_DATABASE_URL: 'aws-sm://prod/sealpost/db-url', SEALPOST_AWS_REGION: 'eu-central-1' });
    expect(config.database).toEqual({ dialect: 'postgres', url: PG_URL });
    expect(config.secretSources).toContainEqual({ setting: 'SEALPOST_DATABASE_URL', source: 'AWS Secrets Manager secret "prod/sealpost/db-url" (SEALPOST_DATABASE_URL)' });
    expect(config.secretSources.map((s) => s.source).join('\n')).not.toContain('s3cr3t');
  });

  it('picks a JSON field with #field, from an ARN given in a _FILE', async () => {
    const arn = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:sealpost-AbCdEf';
    sm.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: JSON.stringify({ url: PG_URL, username: 'sealpost' }) });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-secrets-'));
    try {
      const ref = path.join(dir, 'ref');
      writeFileSync(ref, `aws-sm://${arn}#url\n`);
      const config = await loadConfigWithSecrets({ SEALPOST_DATABASE_URL_FILE: ref });
      expect(config.databaseUrl).toBe(PG_URL);
      expect(config.secretSources).toContainEqual({ setting: 'SEALPOST_DATABASE_URL', source: `AWS Secrets Manager secret "${arn}" field "url" (file ${ref} (SEALPOST_DATABASE_URL_FILE))` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing secret, a missing field and a non-JSON secret, naming the secret and never its content', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'gone' }).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    sm.on(GetSecretValueCommand, { SecretId: 'json' }).resolves({ SecretString: JSON.stringify({ password: 's3cr3t-Pa55' }) });
    sm.on(GetSecretValueCommand, { SecretId: 'text' }).resolves({ SecretString: 's3cr3t-Pa55' });
    const found = await Promise.all(
      ['aws-sm://gone', 'aws-sm://json#url', 'aws-sm://text#url', 'aws-sm://text'].map((ref) => problemsOf(() => loadConfigWithSecrets({ SEALPOST_DATABASE_URL: ref }))),
    );
    expect(found).toEqual([
      ['SEALPOST_DATABASE_URL (from AWS Secrets Manager secret "gone" (SEALPOST_DATABASE_URL)): cannot read secret "gone" (ResourceNotFoundException)'],
      ['SEALPOST_DATABASE_URL (from AWS Secrets Manager secret "json" field "url" (SEALPOST_DATABASE_URL)): secret "json" has no text field "url"'],
      ['SEALPOST_DATABASE_URL (from AWS Secrets Manager secret "text" field "url" (SEALPOST_DATABASE_URL)): secret "text" is not JSON, so it has no field "url"'],
      // The secret's value is read, but is not a URL: shown neither.
      ['SEALPOST_DATABASE_URL (from AWS Secrets Manager secret "text" (SEALPOST_DATABASE_URL)): must be a URL starting with sqlite: or postgres: or postgresql://'],
    ]);
    expect(found.flat().join('\n')).not.toContain('s3cr3t');
  });

  it('fetches each secret once however many settings use it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ url: PG_URL, token: 't0k3n' }) });
    const client = new SecretsManagerClient({ region: 'eu-central-1' });
    const resolved = await resolveAwsSecrets(
      [{ secretId: 'shared', field: 'url' }, { secretId: 'shared', field: 'token' }],
      () => client,
    );
    expect(resolved).toEqual([{ value: PG_URL }, { value: 't0k3n' }]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('leaves references to the command: the synchronous loader refuses them without fetching', async () => {
    expect(await problemsOf(() => loadConfig({ SEALPOST_DATABASE_URL: 'aws-sm://prod/db' }))).toEqual([
      'SEALPOST_DATABASE_URL: aws-sm:// references are resolved only when the sealpost command starts',
    ]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });
});
