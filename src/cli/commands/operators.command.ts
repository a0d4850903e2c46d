import { Option, type Command } from 'commander';
import { isId } from '../../crypto/ids.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { ROLES, type Role } from '../../identity/permissions.js';
import { print, withSealpost } from '../cli-support.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function registerOperators(program: Command): void {
  const operators = program.command('operators').description('operators (the people of a tenant)');

  operators
    .command('create')
    .description('add an operator to a tenant with a role and print a one-time setup link (7 days) for their password')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .requiredOption('--email <email>', 'their e-mail address (their sign-in name)')
    .addOption(new Option('--role <role>', 'their role in the tenant').choices(ROLES).makeOptionMandatory())
    .option('--json', 'print JSON')
    .action(async (options: { tenant: string; email: string; role: Role; json?: boolean }) => {
      if (!isId('tenant', options.tenant)) throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', `--tenant must be a tenant id (ten_…), not ${JSON.stringify(options.tenant)}`);
      if (!EMAIL.test(options.email) || options.email.length > 254) throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', `--email is not an e-mail address: ${JSON.stringify(options.email)}`);
      const result = await withSealpost(async (sealpost) => {
        if (!(await sealpost.tenants.find(options.tenant))) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', `No tenant ${options.tenant}`);
        return sealpost.identity.members.createOperator(options.tenant, options.email, options.role, { type: 'system', id: 'sealpost-cli' });
      });
      const out = { operator: result.operatorId, tenant: options.tenant, email: options.email, role: options.role, setup_link: result.link };
      print(out, options.json === true, () =>
        result.link
          ? `Operator ${result.operatorId} (${options.role}) added to ${options.tenant}.\nSetup link (works once, for 7 days; hand it over privately):\n${result.link}`
          : `Operator ${result.operatorId} already has a password; added to ${options.tenant} as ${options.role}.`,
      );
    });
}
