import type { Command } from 'commander';
import type { AuditActor } from '../../audit/audit-event.js';
import { breachJson, noticeJson } from '../../ops/breach/breach.routes.js';
import type { BreachView } from '../../ops/breach/breach.service.js';
import { print, withSealpost } from '../cli-support.js';

/** The operator at the command line acts for the deployment (staff use the staff API, under their own names). */
const CLI_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };

function human(view: BreachView): string {
  return [
    `${view.id}  ${view.title}  declared ${new Date(view.declaredAt).toISOString()} by ${view.declaredBy}${view.incidentId ? `  incident ${view.incidentId}` : ''}`,
    ...view.notices.map((n) => {
      const sent = n.notifiedAt === null ? `NOT NOTIFIED (deadline ${new Date(n.deadlineAt).toISOString()})` : `notified ${new Date(n.notifiedAt).toISOString()} by ${n.notifiedVia}${n.evidence === 'missing' ? ' [NO MATCHING AUDIT EVENT]' : ''}`;
      const ack = n.acknowledgedAt === null ? '' : `, acknowledged ${new Date(n.acknowledgedAt).toISOString()}`;
      return `  ${n.tenantId}  ${sent}${ack}`;
    }),
  ].join('\n');
}

/** `sealpost breach`: the 72-hour breach workflow (docs/security-operations.md). */
export function registerBreach(program: Command): void {
  const breach = program.command('breach').description('confirmed breaches: notify affected tenants within 72 hours, and follow each notice');

  breach
    .command('declare')
    .description("declare a confirmed breach: each tenant's 72-hour clock starts and its notice is e-mailed to its security contacts")
    .requiredOption('--title <title>', 'short title (3–200 characters)')
    .requiredOption('--summary <text>', 'what the notice tells each tenant (10–4000 characters)')
    .requiredOption('--tenant <id...>', 'affected tenants (ten_…)')
    .option('--incident <id>', "the status page's incident, if any")
    .option('--json', 'print JSON')
    .action(async (options: { title: string; summary: string; tenant: string[]; incident?: string; json?: boolean }) => {
      const view = await withSealpost((sealpost) =>
        sealpost.breaches.declare({ title: options.title, summary: options.summary, tenants: options.tenant, incidentId: options.incident ?? null }, CLI_ACTOR),
      );
      print(breachJson(view), options.json === true, () => human(view));
    });

  breach
    .command('list')
    .description('breaches, newest first')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const list = await withSealpost((sealpost) => sealpost.breaches.list());
      print({ data: list.map(breachJson) }, options.json === true, () => list.map((b) => `${b.id}  ${new Date(b.declaredAt).toISOString()}  ${b.title}`).join('\n') || 'no breaches');
    });

  breach
    .command('show')
    .description("a breach and each tenant's notice; flags a sent mark without its audit event")
    .argument('<breach>', 'breach id (brc_…)')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const view = await withSealpost((sealpost) => sealpost.breaches.show(id));
      print(breachJson(view), options.json === true, () => human(view));
    });

  breach
    .command('notified')
    .description('record that a tenant was notified another way (phone, your own mail): its alerts stop')
    .argument('<breach>', 'breach id (brc_…)')
    .requiredOption('--tenant <id>', 'the tenant notified')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { tenant: string; json?: boolean }) => {
      const notice = await withSealpost((sealpost) => sealpost.breaches.markNotified(id, options.tenant, CLI_ACTOR));
      print(noticeJson(notice), options.json === true, () => `${options.tenant} recorded as notified of ${id}.`);
    });

  breach
    .command('ack')
    .description('record that a tenant acknowledged the notice another way')
    .argument('<breach>', 'breach id (brc_…)')
    .requiredOption('--tenant <id>', 'the tenant that acknowledged')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { tenant: string; json?: boolean }) => {
      const notice = await withSealpost((sealpost) => sealpost.breaches.acknowledgeByStaff(id, options.tenant, CLI_ACTOR));
      print(noticeJson(notice), options.json === true, () => `${options.tenant} recorded as having acknowledged ${id}.`);
    });
}
