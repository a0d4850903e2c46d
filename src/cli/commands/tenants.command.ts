import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { SealpostError } from '../../errors/sealpost-error.js';
import { PLANS, type Plan } from '../../identity/scopes.js';
import { print, withSealpost } from '../cli-support.js';

/** Who erases a tenant at the command line. */
const CLI_ACTOR = { type: 'system', id: 'sealpost-cli' } as const;

/** The operator must name the tenant a second time: by `--yes-erase <id>`, or typed at the prompt on a terminal. */
async function confirmErasure(tenantId: string, yesErase: string | undefined): Promise<void> {
  let typed = yesErase;
  if (typed === undefined && process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      typed = (await rl.question(`Erasing ${tenantId} destroys its keys: all its data becomes unreadable for good, in every backup too.\nType the tenant id to confirm: `)).trim();
    } finally {
      rl.close();
    }
  }
  if (typed !== tenantId) {
    throw new SealpostError('SP_ERR_TENANT_ERASURE_UNCONFIRMED', `Not erased: confirm with --yes-erase ${tenantId} (or type the id on a terminal)`);
  }
}

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
      const rows = list.map((t) => ({ id: t.id, name: t.name, plan: t.plan, kind: t.kind, created_at: new Date(t.createdAt).toISOString() }));
      print(rows, options.json === true, () => rows.map((t) => `${t.id}  ${t.plan.padEnd(9)}  ${t.name}${t.kind === 'deployment' ? '  (the deployment\'s own tenant)' : ''}`).join('\n') || 'no tenants');
    });

  tenants
    .command('erase')
    .description("erase a tenant by crypto-shredding: destroys its root key, so all its data is unreadable everywhere, backups included")
    .argument('<tenant>', 'tenant id (ten_…)')
    .option('--yes-erase <tenant>', 'confirm without a prompt by naming the tenant again')
    .option('--json', 'print JSON')
    .action(async (tenantId: string, options: { yesErase?: string; json?: boolean }) => {
      await confirmErasure(tenantId, options.yesErase);
      const erased = await withSealpost((sealpost) => sealpost.erasure.erase(tenantId, CLI_ACTOR, 'cli'));
      const out = { tenant: erased.tenant, erased_at: new Date(erased.erasedAt).toISOString(), already_erased: erased.alreadyErased };
      print(out, options.json === true, () => `${out.tenant} erased at ${out.erased_at}${erased.alreadyErased ? ' (already erased; root key destruction repeated)' : ''}`);
    });

  tenants
    .command('retention')
    .description("show or set a tenant's payload retention: payloads, attachments, raw e-mail, deliveries and attempts older than this are deleted")
    .argument('<tenant>', 'tenant id (ten_…)')
    .option('--days <days>', "new retention in days (1 to the plan's limit)")
    .option('--json', 'print JSON')
    .action(async (tenantId: string, options: { days?: string; json?: boolean }) => {
      const settings = await withSealpost((sealpost) =>
        options.days === undefined ? sealpost.tenantSettings.get(tenantId) : sealpost.tenantSettings.setRetention(tenantId, Number(options.days), CLI_ACTOR),
      );
      const out = { tenant: settings.id, plan: settings.plan, retention_days: settings.retentionDays, max_retention_days: settings.maxRetentionDays };
      print(out, options.json === true, () => `${out.tenant}  retention ${out.retention_days} days (plan ${out.plan}: at most ${out.max_retention_days})`);
    });
}
