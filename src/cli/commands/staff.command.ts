import type { Command } from 'commander';
import type { AuditActor } from '../../audit/audit-event.js';
import { isId } from '../../crypto/ids.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { print, withSealpost } from '../cli-support.js';

/** The CLI acts for the deployment itself: the system actor, named in every event it writes. */
const CLI_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };

export function registerStaff(program: Command): void {
  const staff = program.command('staff').description('staff: the people who run this deployment (sign-in allow-list, access grants)');

  staff
    .command('add')
    .description('enrol a staff identity: their e-mail joins the allow-list; prints a one-time WebAuthn enrolment code (24 h)')
    .requiredOption('--email <email>', 'their verified e-mail at the staff OpenID provider')
    .option('--json', 'print JSON')
    .action(async (options: { email: string; json?: boolean }) => {
      const added = await withSealpost((sealpost) => sealpost.staff.signIn.add(options.email, CLI_ACTOR));
      const out = { staff: added.staff.id, email: added.staff.email, enrolment_code: added.enrolmentCode };
      print(out, options.json === true, () =>
        [
          `Staff ${added.staff.id} (${added.staff.email}) enrolled.`,
          'One-time enrolment code for their WebAuthn key (24 hours; hand it over privately):',
          added.enrolmentCode,
        ].join('\n'),
      );
    });

  staff
    .command('disable')
    .description('offboard a staff identity: no more sign-ins, every session (and so every grant in use) ends at once')
    .requiredOption('--email <email>', 'their e-mail on the allow-list')
    .option('--json', 'print JSON')
    .action(async (options: { email: string; json?: boolean }) => {
      const disabled = await withSealpost((sealpost) => sealpost.staff.signIn.disable(options.email, CLI_ACTOR));
      print({ staff: disabled.id, email: disabled.email, disabled: true }, options.json === true, () => `Staff ${disabled.id} (${disabled.email}) disabled.`);
    });

  staff
    .command('list')
    .description('list staff identities')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const members = await withSealpost((sealpost) => sealpost.staff.signIn.list());
      const out = members.map((m) => ({ id: m.id, email: m.email, created_at: new Date(m.createdAt).toISOString(), disabled: m.disabledAt !== null }));
      print(out, options.json === true, () => out.map((m) => `${m.id}  ${m.email}${m.disabled ? '  (disabled)' : ''}`).join('\n') || 'No staff.');
    });

  staff
    .command('grants')
    .description('list staff access grants, newest first')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const grants = await withSealpost((sealpost) => sealpost.staff.grants.listAll());
      print(grants, options.json === true, () =>
        grants
          .map((g) => `${g.id}  ${g.tenant}  ${g.scope}  ${g.state}${g.break_glass ? ' BREAK-GLASS' : ''}  by ${g.requester.email ?? g.requester.id}  until ${g.expires_at ?? '-'}  "${g.reason}"`)
          .join('\n') || 'No grants.',
      );
    });

  staff
    .command('revoke <grant>')
    .description('end a live staff grant at once')
    .option('--json', 'print JSON')
    .action(async (grant: string, options: { json?: boolean }) => {
      if (!isId('staffGrant', grant)) throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', `not a grant id (grt_…): ${JSON.stringify(grant)}`);
      const revoked = await withSealpost((sealpost) => sealpost.staff.grants.revoke(CLI_ACTOR, grant));
      print(revoked, options.json === true, () => `Grant ${revoked.id} on ${revoked.tenant} revoked.`);
    });
}
