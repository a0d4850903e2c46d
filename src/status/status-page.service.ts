import { COMPONENT_NAMES, COMPONENTS, COMPONENT_STATES, type Component, type ComponentState, type ProbeState } from './component.js';
import { UPTIME_DAYS } from './component-status.service.js';
import { incidentFacts, type Incident, type IncidentFacts } from './incidents/incident.js';
import type { IncidentRepository } from './incidents/incident.repository.js';
import { maintenanceView } from './maintenance.service.js';
import { utcDay, type StatusRepository, type UptimeDay } from './status.repository.js';

const DAY_MS = 86_400_000;
/** Resolved incidents stay on the page this long (their postmortems stay linked). */
const RESOLVED_SHOWN_MS = 14 * DAY_MS;
/** Bounds the page and the JSON whatever happens: incidents at once, updates in the feed. */
const MAX_INCIDENTS = 50;
export const MAX_FEED_ENTRIES = 50;

export type DayState = ComponentState | 'no_data';

export interface ComponentView {
  readonly id: Component;
  readonly name: string;
  readonly state: ComponentState | 'unknown';
  readonly since: string | null;
  readonly detail: string;
  /** Share of the last 90 days' samples not in an outage (maintenance counts as up), null without samples. */
  readonly uptime_percent: number | null;
  /** Oldest first, one per UTC day, the last being today. */
  readonly days: readonly { readonly day: string; readonly state: DayState; readonly uptime_percent: number | null }[];
}

export interface IncidentView extends IncidentFacts {
  readonly postmortem_url: string | null;
  /** The signed updates, newest first, exactly as signed (verify each with the log key). */
  readonly updates: readonly Record<string, unknown>[];
}

export interface StatusSnapshot {
  readonly overall: ComponentState | 'unknown';
  readonly components: readonly ComponentView[];
  readonly incidents: { readonly open: readonly IncidentView[]; readonly resolved: readonly IncidentView[] };
  readonly maintenance: readonly (ReturnType<typeof maintenanceView> & { readonly active: boolean })[];
  /** Where the key that signs updates and postmortems is published (C2SP verifier key). */
  readonly log_key_url: string;
}

function dayState(d: UptimeDay | undefined): DayState {
  if (!d || d.samples === 0) return 'no_data';
  if (d.majorOutage > 0) return 'major_outage';
  if (d.partialOutage > 0) return 'partial_outage';
  if (d.degraded > 0) return 'degraded';
  if (d.maintenance > 0) return 'maintenance';
  return 'operational';
}

function uptime(samples: number, down: number): number | null {
  return samples === 0 ? null : Math.floor(((samples - down) / samples) * 10_000) / 100;
}

/** The worst state among components, maintenance below any outage. */
function overallOf(states: readonly (ComponentState | 'unknown')[]): ComponentState | 'unknown' {
  if (states.includes('unknown')) return 'unknown';
  const probed = states.filter((s): s is ProbeState => s !== 'maintenance');
  const worst = probed.reduce<ProbeState>((a, b) => (COMPONENT_STATES.indexOf(b) > COMPONENT_STATES.indexOf(a) ? b : a), 'operational');
  return worst === 'operational' && states.includes('maintenance') ? 'maintenance' : worst;
}

/** What the status page, /status.json, the live events and the feed show: read-only, public facts. */
export class StatusPageService {
  constructor(
    private readonly status: StatusRepository,
    private readonly incidents: IncidentRepository,
    private readonly now: () => number = Date.now,
  ) {}

  async snapshot(): Promise<StatusSnapshot> {
    const now = this.now();
    const days = Array.from({ length: UPTIME_DAYS }, (_, i) => utcDay(now - (UPTIME_DAYS - 1 - i) * DAY_MS));
    const [states, samples, incidents, windows] = await Promise.all([
      this.status.states(),
      this.status.uptimeDays(days[0]!),
      this.incidents.recent(now - RESOLVED_SHOWN_MS, MAX_INCIDENTS),
      this.status.upcomingMaintenance(now, 50),
    ]);
    const byComponent = new Map(states.map((s) => [s.component, s]));
    const sampleOf = new Map(samples.map((d) => [`${d.component} ${d.day}`, d]));
    const components = COMPONENTS.map((id): ComponentView => {
      const current = byComponent.get(id);
      const ofDays = days.map((day) => sampleOf.get(`${id} ${day}`));
      const total = ofDays.reduce((n, d) => n + (d?.samples ?? 0), 0);
      const down = ofDays.reduce((n, d) => n + (d ? d.majorOutage + d.partialOutage : 0), 0);
      return {
        id,
        name: COMPONENT_NAMES[id],
        state: current?.state ?? 'unknown',
        since: current ? new Date(current.since).toISOString() : null,
        detail: current?.detail ?? 'not probed yet',
        uptime_percent: uptime(total, down),
        days: days.map((day, i) => {
          const d = ofDays[i];
          return { day, state: dayState(d), uptime_percent: d ? uptime(d.samples, d.majorOutage + d.partialOutage) : null };
        }),
      };
    });
    const ids = incidents.map((i) => i.id);
    const [updates, withPostmortem] = await Promise.all([this.incidents.updatesOf(ids), this.incidents.withPostmortem(ids)]);
    const view = (incident: Incident): IncidentView => ({
      ...incidentFacts(incident),
      postmortem_url: withPostmortem.has(incident.id) ? `/status/incidents/${incident.id}/postmortem` : null,
      updates: updates.filter((u) => u.incidentId === incident.id).map((u) => JSON.parse(u.document) as Record<string, unknown>),
    });
    return {
      overall: overallOf(components.map((c) => c.state)),
      components,
      incidents: { open: incidents.filter((i) => i.resolvedAt === null).map(view), resolved: incidents.filter((i) => i.resolvedAt !== null).map(view) },
      maintenance: windows.map((w) => ({ ...maintenanceView(w), active: w.startsAt <= now })),
      log_key_url: '/.well-known/sealpost-log-key',
    };
  }

  /** The latest signed updates of all incidents, for the Atom feed, newest first. */
  async feed(): Promise<{ incidentTitle: string; document: Record<string, unknown>; text: string }[]> {
    const updates = await this.incidents.latestUpdates(MAX_FEED_ENTRIES);
    return updates.map((u) => {
      const document = JSON.parse(u.document) as Record<string, unknown>;
      return { incidentTitle: String(document.title), document, text: u.document };
    });
  }

  /** A published postmortem, with its incident; undefined if there is none. */
  async postmortem(incidentId: string): Promise<{ incident: Incident; document: Record<string, unknown>; text: string } | undefined> {
    const [incident, postmortem] = await Promise.all([this.incidents.find(incidentId), this.incidents.postmortem(incidentId)]);
    if (!incident || !postmortem) return undefined;
    return { incident, document: JSON.parse(postmortem.document) as Record<string, unknown>, text: postmortem.document };
  }
}
