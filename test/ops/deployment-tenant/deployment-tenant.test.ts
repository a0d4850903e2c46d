import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealpost, type Sealpost } from '../../../src/app/sealpost.js';
import { loadConfig } from '../../../src/config/config.load.js';
import { DeploymentTenantRepository } from '../../../src/ops/deployment-tenant/deployment-tenant.repository.js';
import { ensureDeploymentTenant } from '../../../src/ops/deployment-tenant/deployment-tenant.js';
import { createLogger } from '../../../src/logging/logger.js';
import { SealpostError } from '../../../src/errors/sealpost-error.js';
import { runCli } from '../../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../support/test-database.js';
import { cliEnvFor } from '../../audit/audit-test-support.js';

const ADMIN = { type: 'system', id: 'test' } as const;

describe.each(testDialects())("the deployment's own tenant on %s", { timeout: 120_000 }, (dialect) => {
  let testDb: TestDatabase;
  let env: Record<string, string>;
  let first: Sealpost;

  const open = (): Promise<Sealpost> =>
    createSealpost(loadConfig({ ...env, SEALPOST_LOG_LEVEL: 'silent' }), { logger: createLogger('silent'), publicUrl: 'https://localhost', destinationResolver: async () => ['93.184.216.34'] });

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    env = cliEnvFor(testDb);
    first = await open();
  });
  afterAll(async () => {
    await first?.close();
    await testDb?.dispose();
  });

  async function deploymentEvents(): Promise<{ action: string | null }[]> {
    return first.database.db.selectFrom('audit_events').select(['action']).where('tenant_id', '=', first.deploymentTenant.id).execute();
  }

  it('is created once at start, audited, and found again by every later start', async () => {
    const id = first.deploymentTenant.id;
    expect(id).toMatch(/^ten_/);
    const again = await open();
    try {
      expect(again.deploymentTenant.id).toBe(id);
    } finally {
      await again.close();
    }
    expect(await deploymentEvents()).toEqual([{ action: 'tenant.created' }]);
    const rows = await first.database.db.selectFrom('tenants').select(['id', 'kind']).where('kind', '=', 'deployment').execute();
    expect(rows).toEqual([{ id, kind: 'deployment' }]);
  });

  it('yields one tenant when processes ensure it at the same time', async () => {
    const repository = new DeploymentTenantRepository(first.database.db);
    await first.database.db.deleteFrom('tenants').where('kind', '=', 'deployment').where('id', '!=', first.deploymentTenant.id).execute();
    const results = await Promise.all([1, 2, 3].map(() => ensureDeploymentTenant({ db: first.database.db, repository, audit: first.effects.audit.tenants })));
    expect(new Set(results.map((r) => r.id))).toEqual(new Set([first.deploymentTenant.id]));
  });

  it('gives no operator access by default: no API key, no member', async () => {
    const id = first.deploymentTenant.id;
    expect(await first.database.db.selectFrom('api_keys').select('id').where('tenant_id', '=', id).execute()).toEqual([]);
    expect(await first.identity.members.list(id)).toEqual([]);
  });

  it('is told apart from customer tenants, whatever their name', async () => {
    const customer = await first.tenants.create('sealpost', 'starter');
    const listed = await first.tenants.list();
    expect(listed.find((t) => t.id === customer.tenant.id)?.kind).toBe('customer');
    expect(listed.find((t) => t.id === first.deploymentTenant.id)?.kind).toBe('deployment');
  });

  it('refuses a database edit that makes a second deployment tenant or an unknown kind', async () => {
    const customer = await first.tenants.create('customer', 'starter');
    await expect(first.database.db.updateTable('tenants').set({ kind: 'deployment' }).where('id', '=', customer.tenant.id).execute()).rejects.toThrow();
    await expect(first.database.db.updateTable('tenants').set({ kind: 'staff' }).where('id', '=', customer.tenant.id).execute()).rejects.toThrow();
    expect((await first.tenants.find(customer.tenant.id))?.kind).toBe('customer');
  });

  it('refuses erasure of the deployment tenant, and leaves it whole', async () => {
    const id = first.deploymentTenant.id;
    const refused = await first.erasure.erase(id, ADMIN, 'cli').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SealpostError);
    expect((refused as SealpostError).code).toBe('SP_ERR_TENANT_DEPLOYMENT_PROTECTED');
    const row = await first.database.db.selectFrom('tenants').select(['erased_at']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.erased_at).toBeNull();
    expect((await deploymentEvents()).map((e) => e.action)).not.toContain('tenant.erased');
  });

  it('takes its destinations from the CLI, audited in its own log', async () => {
    const added = await runCli(['deployment-tenant', 'destinations', 'add', '--url', 'https://93.184.216.34/hook', '--json'], env);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const destination = JSON.parse(added.stdout) as { id: string; url: string };
    expect(destination.url).toBe('https://93.184.216.34/hook');
    const shown = JSON.parse((await runCli(['deployment-tenant', 'show', '--json'], env)).stdout) as { tenant: string; destinations: { id: string }[] };
    expect(shown.tenant).toBe(first.deploymentTenant.id);
    expect(shown.destinations.map((d) => d.id)).toEqual([destination.id]);
    expect((await deploymentEvents()).map((e) => e.action)).toContain('destination.created');
    const erase = await runCli(['tenants', 'erase', first.deploymentTenant.id, '--yes-erase', first.deploymentTenant.id], env);
    expect(erase.code).not.toBe(0);
    expect(erase.stderr).toContain('SP_ERR_TENANT_DEPLOYMENT_PROTECTED');
  });
});
