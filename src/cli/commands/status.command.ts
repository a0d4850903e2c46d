import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AuditActor } from '../../audit/audit-event.js';
import { isId } from '../../crypto/ids.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { MAX_POSTMORTEM_CHARS } from '../../status/incidents/incident.service.js';
import { maintenanceView } from '../../status/maintenance.service.js';
import { incidentView, updateView } from '../../status/status-staff.routes.js';
import { print, withSealpost } from '../cli-support.js';

/** The CLI acts for the deployment itself: the system actor, named in every event it writes. */
const CLI_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };

function input(message: string): SealpostError {
  return new SealpostError('SP_ERR_STATUS_INPUT_INVALID', message);
}

function idOf(kind: 'incident' | 'maintenance', value: string): string {
  if (!isId(kind, value)) throw input(`not a${kind === 'incident' ? 'n incident id (inc_…)' : ' maintenance window id (mnt_…)'}: ${JSON.stringify(value.slice(0, 40))}`);
  return value;
}

function timeOf(value: string, what: string): number {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms)) throw input(`${what} must be an ISO 8601 time, e.g. 2026-12-24T02:00:00Z`);
  return ms;
}

const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

export function registerStatus(program: Command): void {
  const incidents = program.command('incidents').description('status page incidents: open, update, postmortem (each update and postmortem is signed and audited)');

  incidents
    .command('open')
    .description('open an incident (state investigating) with its first update')
    .requiredOption('--title <text>', 'what customers see as the headline')
    .requiredOption('--impact <impact>', 'none | minor | major | critical')
    .requiredOption('--components <list>', 'comma-separated: https_ingest, smtp_ingress, delivery, console')
    .requiredOption('--message <text>', 'the first update')
    .option('--customer-visible', 'customers were affected: the incident then needs a postmortem (or a waiver) to resolve')
    .option('--json', 'print JSON')
    .action(async (o: { title: string; impact: string; components: string; message: string; customerVisible?: boolean; json?: boolean }) => {
      const opened = await withSealpost((s) =>
        s.status.incidents.open(CLI_ACTOR, { title: o.title, impact: o.impact, components: list(o.components), customerVisible: o.customerVisible === true, message: o.message }),
      );
      print({ ...incidentView(opened.incident), update: updateView(opened.update) }, o.json === true, () => `Incident ${opened.incident.id} opened (investigating).`);
    });

  incidents
    .command('update <incident>')
    .description('post an update: investigating → identified → monitoring → resolved')
    .requiredOption('--state <state>', 'investigating | identified | monitoring | resolved')
    .requiredOption('--message <text>', 'what customers read')
    .option('--json', 'print JSON')
    .action(async (incident: string, o: { state: string; message: string; json?: boolean }) => {
      const posted = await withSealpost((s) => s.status.incidents.postUpdate(CLI_ACTOR, idOf('incident', incident), { state: o.state, message: o.message }));
      print({ ...incidentView(posted.incident), update: updateView(posted.update) }, o.json === true, () => `Incident ${posted.incident.id}: ${posted.incident.state}.`);
    });

  incidents
    .command('postmortem <incident>')
    .description('publish the postmortem (Markdown, rendered without raw HTML), naming the root cause; once per incident')
    .requiredOption('--root-cause <text>', 'the root cause, in a sentence or two')
    .requiredOption('--file <path>', 'the postmortem in Markdown')
    .option('--json', 'print JSON')
    .action(async (incident: string, o: { rootCause: string; file: string; json?: boolean }) => {
      const markdown = readFileSync(o.file, 'utf8');
      if (markdown.length > MAX_POSTMORTEM_CHARS) throw input(`The postmortem must be at most ${MAX_POSTMORTEM_CHARS} characters`);
      const published = await withSealpost((s) => s.status.incidents.publishPostmortem(CLI_ACTOR, idOf('incident', incident), { rootCause: o.rootCause, markdown }));
      print(JSON.parse(published.document) as unknown, o.json === true, () => `Postmortem of ${published.incidentId} published.`);
    });

  incidents
    .command('waive-postmortem <incident>')
    .description('let a customer-visible incident resolve without a postmortem (recorded in the audit log with the reason)')
    .requiredOption('--reason <text>', 'why no postmortem (at least 10 characters)')
    .option('--json', 'print JSON')
    .action(async (incident: string, o: { reason: string; json?: boolean }) => {
      const waived = await withSealpost((s) => s.status.incidents.waivePostmortem(CLI_ACTOR, idOf('incident', incident), o.reason));
      print(incidentView(waived), o.json === true, () => `Postmortem of ${waived.id} waived.`);
    });

  incidents
    .command('list')
    .description('open incidents and those resolved in the last 14 days, as the status page shows them')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const snapshot = await withSealpost((s) => s.status.page.snapshot());
      const all = [...snapshot.incidents.open, ...snapshot.incidents.resolved];
      print(all, o.json === true, () => all.map((i) => `${i.id}  ${i.state}  ${i.impact}  ${i.components.join(',')}  "${i.title}"`).join('\n') || 'No incidents.');
    });

  const maintenance = program.command('maintenance').description('status page maintenance windows: probes do not change the components they cover');

  maintenance
    .command('schedule')
    .description('schedule a window (at most 7 days)')
    .requiredOption('--components <list>', 'comma-separated: https_ingest, smtp_ingress, delivery, console')
    .requiredOption('--start <time>', 'ISO 8601, e.g. 2026-12-24T02:00:00Z')
    .requiredOption('--end <time>', 'ISO 8601')
    .requiredOption('--note <text>', 'what customers read')
    .option('--json', 'print JSON')
    .action(async (o: { components: string; start: string; end: string; note: string; json?: boolean }) => {
      const startsAt = timeOf(o.start, '--start');
      const endsAt = timeOf(o.end, '--end');
      const window = await withSealpost((s) => s.status.maintenance.schedule(CLI_ACTOR, { components: list(o.components), startsAt, endsAt, note: o.note }));
      print(maintenanceView(window), o.json === true, () => `Maintenance ${window.id} scheduled.`);
    });

  maintenance
    .command('cancel <window>')
    .description('cancel a window that has not ended')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const window = await withSealpost((s) => s.status.maintenance.cancel(CLI_ACTOR, idOf('maintenance', id)));
      print(maintenanceView(window), o.json === true, () => `Maintenance ${window.id} cancelled.`);
    });

  maintenance
    .command('list')
    .description('every window, newest first')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const windows = (await withSealpost((s) => s.status.maintenance.list())).map(maintenanceView);
      print(windows, o.json === true, () => windows.map((w) => `${w.id}  ${w.starts_at} – ${w.ends_at}  ${w.components.join(',')}${w.cancelled ? '  (cancelled)' : ''}  "${w.note}"`).join('\n') || 'No maintenance windows.');
    });
}
