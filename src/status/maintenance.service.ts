import type { Kysely } from 'kysely';
import type { AuditActor } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import { newId } from '../crypto/ids.js';
import type { Database } from '../db/schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { isComponent, type Component } from './component.js';
import type { MaintenanceWindow, StatusRepository } from './status.repository.js';

/** Longer windows would hide a real outage behind "maintenance" for too long; schedule another. */
export const MAX_MAINTENANCE_MS = 7 * 86_400_000;
/** Public text on the page: a sentence or two. */
export const MAX_NOTE_CHARS = 500;

export interface MaintenanceInput {
  readonly components: readonly string[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly note: string;
}

function invalid(message: string): SealpostError {
  return new SealpostError('SP_ERR_STATUS_INPUT_INVALID', message);
}

export function actorName(actor: AuditActor): string {
  return `${actor.type}:${actor.id ?? 'unknown'}`;
}

/** Checks the components named: known, at least one, no repeats. */
export function componentsOf(names: readonly string[]): Component[] {
  if (names.length === 0) throw invalid('Name at least one component');
  const unknown = names.filter((n) => !isComponent(n));
  if (unknown.length > 0) throw invalid(`Unknown component(s): ${unknown.slice(0, 4).join(', ').slice(0, 100)}`);
  return [...new Set(names as Component[])];
}

export function checkedText(value: string, max: number, what: string): string {
  const text = value.trim();
  if (text.length === 0 || text.length > max) throw invalid(`${what} must be 1..${max} characters`);
  return text;
}

/** Maintenance windows: staff schedule them (API or CLI); the probe job shows covered components as under maintenance. */
export class MaintenanceService {
  constructor(
    private readonly repository: StatusRepository,
    private readonly deps: { db: Kysely<Database>; audit: AuditRecorder; now: () => number; changed: () => void },
  ) {}

  async schedule(actor: AuditActor, input: MaintenanceInput): Promise<MaintenanceWindow> {
    const components = componentsOf(input.components);
    const note = checkedText(input.note, MAX_NOTE_CHARS, 'The note');
    const now = this.deps.now();
    if (!Number.isFinite(input.startsAt) || !Number.isFinite(input.endsAt)) throw invalid('Start and end must be times');
    if (input.endsAt <= input.startsAt) throw invalid('The window must end after it starts');
    if (input.endsAt <= now) throw invalid('The window must end in the future');
    if (input.endsAt - input.startsAt > MAX_MAINTENANCE_MS) throw invalid('A window lasts at most 7 days');
    const window: MaintenanceWindow = { id: newId('maintenance'), components, startsAt: input.startsAt, endsAt: input.endsAt, note, createdBy: actorName(actor), createdAt: now, cancelledAt: null };
    await this.deps.db.transaction().execute(async (tx) => {
      await this.repository.insertMaintenance(tx, window);
      await this.deps.audit(tx, {
        tenant: null,
        actor,
        action: 'status.maintenance_scheduled',
        resource: window.id,
        details: { components, starts_at: new Date(window.startsAt).toISOString(), ends_at: new Date(window.endsAt).toISOString() },
      });
    });
    this.deps.changed();
    return window;
  }

  async cancel(actor: AuditActor, id: string): Promise<MaintenanceWindow> {
    const window = await this.repository.findMaintenance(id);
    if (!window) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such maintenance window');
    const now = this.deps.now();
    if (window.endsAt <= now) throw new SealpostError('SP_ERR_STATUS_MAINTENANCE_STATE', 'The window is over');
    const cancelled = await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.repository.cancelMaintenance(tx, id, now))) return false;
      await this.deps.audit(tx, { tenant: null, actor, action: 'status.maintenance_cancelled', resource: id });
      return true;
    });
    if (!cancelled) throw new SealpostError('SP_ERR_STATUS_MAINTENANCE_STATE', 'The window was cancelled already');
    this.deps.changed();
    return { ...window, cancelledAt: now };
  }

  upcoming(): Promise<MaintenanceWindow[]> {
    return this.repository.upcomingMaintenance(this.deps.now(), 50);
  }

  list(): Promise<MaintenanceWindow[]> {
    return this.repository.listMaintenance(200);
  }
}

export function maintenanceView(w: MaintenanceWindow): { id: string; components: Component[]; starts_at: string; ends_at: string; note: string; cancelled: boolean } {
  return { id: w.id, components: [...w.components], starts_at: new Date(w.startsAt).toISOString(), ends_at: new Date(w.endsAt).toISOString(), note: w.note, cancelled: w.cancelledAt !== null };
}
