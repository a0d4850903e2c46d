import { Option, type Command } from 'commander';
import { PLANS, type Plan } from '../../identity/scopes.js';
import { print, withSealpost } from '../cli-support.js';
export function registerTenants(program: Command): void {
  const tenants = program.command('tenants').description('tenants (customers) of this Sealpost');

  tenants
    .command('create')
    .description('create a tenant and its first API key (every scope); the key is shown only once')
    .requiredOption('--name <name>', 'display name')
    .addOption(new Option('--plan <plan>', 'plan').choices(PLANS).default('starter'))
    .option('--json', 'print JSON (the default output is JSON too)')
    .action(async (options: { name: string; plan: Plan }) => {
      const created = await withSealpost((sealpost) => sealpost.tenants.create(options.name, options.plan));
      process.stdout.write(`${JSON.stringify({ tenant: created.tenant.id, api_key: created.apiKey })}\n`);
    });

  tenants
    .command('list')
    .description('list tenants')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const list = await withSealpost((sealpost) => sealpost.tenants.list());
      const rows = list.map((t) => ({ id: t.id, name: t.name, plan: t.plan, created_at: new Date(t.createdAt).toISOString() }));
      print(rows, options.json === true, () => rows.map((t) => `${t.id}  ${t.plan.padEnd(9)}  ${t.name}`).join('\n') || 'no tenants');
    });
}
