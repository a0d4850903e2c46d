import { Option, type Command } from 'commander';
import { openDatabase } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrator.js';
import { ApiKeyRepository } from '../../identity/api-key.repository.js';
import { ApiKeyService } from '../../identity/api-key.service.js';
import { PLANS, type Plan } from '../../identity/scopes.js';
import { TenantRepository } from '../../identity/tenant.repository.js';
import { TenantService } from '../../identity/tenant.service.js';
import { configForCommand, print } from '../cli-support.js';

export function registerTenants(program: Command): void {
  const tenants = program.command('tenants').description('tenants (customers) of this Sealpost');

  tenants
    .command('create')
    .description('create a tenant and its first API key (every scope); the key is shown only once')
    .requiredOption('--name <name>', 'display name')
    .addOption(new Option('--plan <plan>', 'plan').choices(PLANS).default('starter'))
    .option('--json', 'print JSON (the default output is JSON too)')
    .action(async (options: { name: string; plan: Plan }) => {
      const config = configForCommand();
      const database = openDatabase(config.database);
      try {
        await migrateToLatest(database.db, database.dialect);
        const keys = new ApiKeyService(new ApiKeyRepository(database.db));
        const created = await new TenantService(database.db, new TenantRepository(database.db), keys).create(options.name, options.plan);
        process.stdout.write(`${JSON.stringify({ tenant: created.tenant.id, api_key: created.apiKey })}\n`);
      } finally {
        await database.close();
      }
    });

  tenants
    .command('list')
    .description('list tenants')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = configForCommand();
      const database = openDatabase(config.database);
      try {
        await migrateToLatest(database.db, database.dialect);
        const list = await new TenantRepository(database.db).list();
        const rows = list.map((t) => ({ id: t.id, name: t.name, plan: t.plan, created_at: new Date(t.createdAt).toISOString() }));
        print(rows, options.json === true, () => rows.map((t) => `${t.id}  ${t.plan.padEnd(9)}  ${t.name}`).join('\n') || 'no tenants');
      } finally {
        await database.close();
      }
    });
}
