import type { Command } from 'commander';
import type { AuditActor } from '../../audit/audit-event.js';
import type { Destination } from '../../delivery/destination.repository.js';
import { print, withSealpost } from '../cli-support.js';

/** The operator at the command line acts for the deployment itself. */
const CLI_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };
/** More than a deployment tenant sensibly has; destinations are capped per tenant anyway. */
const LIST_LIMIT = 100;

/** Never the custom headers: they may carry the receiver's credential. */
const destinationView = (d: Destination) => ({ id: d.id, url: d.url, event_types: d.eventTypes, enabled: d.enabled, created_at: new Date(d.createdAt).toISOString() });

/**
 * `sealpost deployment-tenant`: the deployment's own tenant (docs/deployment-tenant.md). It has no
 * API key and no member; its destinations (where security@ reports and status notices go) are set
 * here by whoever runs the deployment, or by staff under a just-in-time grant through `/v1/destinations`.
 */
export function registerDeploymentTenant(program: Command): void {
  const cmd = program.command('deployment-tenant').description("the deployment's own tenant: its security mailbox and the destinations its mail is forwarded to");

  cmd
    .command('show')
    .description("the deployment tenant's id and its destinations")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const out = await withSealpost(async (sealpost) => {
        const tenant = sealpost.deploymentTenant;
        const destinations = await sealpost.destinations.list(tenant.id, { after: undefined, limit: LIST_LIMIT });
        return { tenant: tenant.id, name: tenant.name, created_at: new Date(tenant.createdAt).toISOString(), destinations: destinations.map(destinationView) };
      });
      print(out, options.json === true, () =>
        [`${out.tenant}  ${out.name}  (the deployment's own tenant, since ${out.created_at})`, ...out.destinations.map((d) => `  ${d.id}  ${d.enabled ? 'enabled ' : 'disabled'}  ${d.url}`)].join('\n'),
      );
    });

  cmd
    .command('reports')
    .description('bug-bounty reports received at security@<inbound domain>, newest first (the messages themselves go to the destinations)')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .action(async (options: { limit: string; json?: boolean }) => {
      const limit = Math.min(1000, Math.max(1, Number.parseInt(options.limit, 10) || 50));
      const reports = await withSealpost((sealpost) => sealpost.securityReports.list(limit));
      const rows = reports.map((r) => ({
        id: r.id,
        payload: r.payloadId,
        received_at: new Date(r.receivedAt).toISOString(),
        encrypted: r.encrypted,
        sender_authenticated: r.senderAuthenticated,
        acknowledged_at: r.acknowledgedAt === null ? null : new Date(r.acknowledgedAt).toISOString(),
        ack_skipped: r.ackSkipped,
      }));
      print({ data: rows }, options.json === true, () =>
        rows.map((r) => `${r.id}  ${r.received_at}  ${r.payload}${r.encrypted ? '  encrypted' : ''}  ${r.acknowledged_at ? 'acknowledged' : `not acknowledged (${r.ack_skipped ?? 'pending'})`}`).join('\n') || 'no reports',
      );
    });

  const destinations = cmd.command('destinations').description("where the deployment tenant's mail (security reports) is forwarded, signed like any delivery");

  destinations
    .command('add')
    .description('add an HTTPS destination (SSRF-checked like any destination)')
    .requiredOption('--url <url>', 'https URL of the security team’s receiver')
    .option('--event-type <type...>', 'only these envelope types (default: every type)')
    .option('--json', 'print JSON')
    .action(async (options: { url: string; eventType?: string[]; json?: boolean }) => {
      const created = await withSealpost((sealpost) =>
        sealpost.destinations.create(sealpost.deploymentTenant.id, { url: options.url, eventTypes: options.eventType ?? null }, CLI_ACTOR),
      );
      const out = destinationView(created);
      print(out, options.json === true, () => `Destination ${out.id} added: ${out.url}`);
    });

  destinations
    .command('remove')
    .description('remove a destination of the deployment tenant')
    .argument('<destination>', 'destination id (dst_…)')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withSealpost((sealpost) => sealpost.destinations.delete(sealpost.deploymentTenant.id, id, CLI_ACTOR));
      print({ id, removed: true }, options.json === true, () => `Destination ${id} removed.`);
    });
}
