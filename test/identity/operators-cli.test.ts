import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnvFor } from '../audit/audit-test-support.js';
import { runCli } from '../support/cli.js';
import { tokenOfLink } from '../support/operators.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe('sealpost operators create', { timeout: 120_000 }, () => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  let tenant: string;

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    env = { ...cliEnvFor(testDb), SEALPOST_DATA_DIR: path.join(testDb.dir, 'data'), SEALPOST_PUBLIC_URL: 'https://sealpost.example.com' };
    const created = await runCli(['tenants', 'create', '--name', 'Acme', '--plan', 'operation'], env);
    expect(created.code, created.stderr).toBe(0);
    tenant = (JSON.parse(created.stdout) as { tenant: string }).tenant;
  });
  afterAll(async () => {
    await testDb?.dispose();
  });

  it('adds an operator with a role and prints a one-time setup link whose token is stored only hashed', async () => {
    const res = await runCli(['operators', 'create', '--tenant', tenant, '--email', 'Owner@Acme.example', '--role', 'owner', '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { operator: string; tenant: string; role: string; setup_link: string };
    expect(out).toMatchObject({ tenant, role: 'owner', operator: expect.stringMatching(/^op_[0-9A-HJKMNP-TV-Z]{26}$/) });
    expect(out.setup_link).toMatch(/^https:\/\/sealpost\.example\.com\/console\/password\/setup#token=[A-Za-z0-9_-]{43}$/);
    const handle = testDb.open();
    try {
      const member = await handle.db.selectFrom('tenant_members').selectAll().where('operator_id', '=', out.operator).executeTakeFirstOrThrow();
      expect(member).toMatchObject({ tenant_id: tenant, role: 'owner' });
      const token = tokenOfLink(out.setup_link);
      const stored = await handle.db.selectFrom('operator_tokens').select(['token_sha256', 'purpose']).where('operator_id', '=', out.operator).executeTakeFirstOrThrow();
      expect(stored).toEqual({ token_sha256: createHash('sha256').update(token).digest('hex'), purpose: 'setup' });
      const event = await handle.db.selectFrom('audit_events').select('event').where('action', '=', 'operator.created').executeTakeFirstOrThrow();
      expect(JSON.parse(event.event!)).toMatchObject({ tenant, actor: { type: 'system', id: 'sealpost-cli' }, resource: out.operator });
      expect(event.event).not.toContain(token);
    } finally {
      await handle.close();
    }
  });

  it('refuses an unknown tenant, a bad e-mail and an unknown role, writing nothing', async () => {
    const unknown = await runCli(['operators', 'create', '--tenant', 'ten_01JDG3ZZZZZZZZZZZZZZZZZZZZ', '--email', 'a@b.example', '--role', 'viewer'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No tenant ten_01JDG3ZZZZZZZZZZZZZZZZZZZZ');
    const email = await runCli(['operators', 'create', '--tenant', tenant, '--email', 'not-an-address', '--role', 'viewer'], env);
    expect(email.code).toBe(1);
    expect(email.stderr).toContain('--email is not an e-mail address');
    const role = await runCli(['operators', 'create', '--tenant', tenant, '--email', 'a@b.example', '--role', 'superuser'], env);
    expect(role.code).not.toBe(0);
    expect(role.stderr).toContain('superuser');
    const handle = testDb.open();
    try {
      expect(await handle.db.selectFrom('operators').select('id').where('email_normalized', '=', 'a@b.example').execute()).toEqual([]);
    } finally {
      await handle.close();
    }
  });
});
