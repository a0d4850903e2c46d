import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { isComponent, type Component, type ComponentState } from './component.js';
import type { DeliverySignals } from './probes.js';

export interface StoredComponentState {
  readonly component: Component;
  readonly state: ComponentState;
  readonly since: number;
  readonly checkedAt: number;
  readonly detail: string;
}

export interface UptimeDay {
  readonly component: Component;
  readonly day: string;
  readonly samples: number;
  readonly operational: number;
  readonly degraded: number;
  readonly partialOutage: number;
  readonly majorOutage: number;
  readonly maintenance: number;
}

export interface MaintenanceWindow {
  readonly id: string;
  readonly components: readonly Component[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly note: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly cancelledAt: number | null;
}

/** Delivery attempts that failed inside Sealpost, not at the destination. */
const INTERNAL_ERROR_CLASSES = ['internal', 'lease_expired'];
const STATE_COLUMN = { operational: 'operational', degraded: 'degraded', partial_outage: 'partial_outage', major_outage: 'major_outage', maintenance: 'maintenance' } as const;

function components(text: string): Component[] {
  return text.split(',').filter(isComponent);
}

function windowOf(r: Database['status_maintenance']): MaintenanceWindow {
  return {
    id: r.id,
    components: components(r.components),
    startsAt: Number(r.starts_at),
    endsAt: Number(r.ends_at),
    note: r.note,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    cancelledAt: r.cancelled_at === null ? null : Number(r.cancelled_at),
  };
}

/** The status page's component states, daily samples and maintenance windows (deployment-wide, public data). */
export class StatusRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async states(): Promise<StoredComponentState[]> {
    const rows = await this.db.selectFrom('status_component_states').select(['component', 'state', 'since', 'checked_at', 'detail']).execute();
    return rows.flatMap((r) =>
      isComponent(r.component) ? [{ component: r.component, state: r.state as ComponentState, since: Number(r.since), checkedAt: Number(r.checked_at), detail: r.detail }] : [],
    );
  }

  /** Stores one sample: the current state (keeping `since` while it is unchanged) and the day's count. */
  async recordSample(tx: Kysely<Database>, sample: { component: Component; state: ComponentState; detail: string; at: number; since: number; day: string }): Promise<void> {
    await tx
      .insertInto('status_component_states')
      .values({ component: sample.component, state: sample.state, since: sample.since, checked_at: sample.at, detail: sample.detail })
      .onConflict((oc) => oc.column('component').doUpdateSet({ state: sample.state, since: sample.since, checked_at: sample.at, detail: sample.detail }))
      .execute();
    const column = STATE_COLUMN[sample.state];
    const zero = { operational: 0, degraded: 0, partial_outage: 0, major_outage: 0, maintenance: 0 };
    await tx
      .insertInto('status_uptime_days')
      .values({ component: sample.component, day: sample.day, samples: 1, ...zero, [column]: 1 })
      .onConflict((oc) =>
        oc.columns(['component', 'day']).doUpdateSet((eb) => ({
          samples: eb('status_uptime_days.samples', '+', 1),
          [column]: eb(`status_uptime_days.${column}`, '+', 1),
        })),
      )
      .execute();
  }

  async uptimeDays(fromDay: string): Promise<UptimeDay[]> {
    const rows = await this.db.selectFrom('status_uptime_days').selectAll().where('day', '>=', fromDay).orderBy('day').execute();
    return rows.flatMap((r) =>
      isComponent(r.component)
        ? [
            {
              component: r.component,
              day: r.day,
              samples: r.samples,
              operational: r.operational,
              degraded: r.degraded,
              partialOutage: r.partial_outage,
              majorOutage: r.major_outage,
              maintenance: r.maintenance,
            },
          ]
        : [],
    );
  }

  /** Retention: days before `beforeDay` are dropped (the page shows 90). */
  async purgeDays(beforeDay: string): Promise<number> {
    const result = await this.db.deleteFrom('status_uptime_days').where('day', '<', beforeDay).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deliverySignals(now: number, heartbeatFresherThan: number, attemptsSince: number): Promise<DeliverySignals> {
    const due = await this.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('oldest'))
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .executeTakeFirst();
    const workers = await this.db.selectFrom('worker_heartbeats').select((eb) => eb.fn.countAll<string | number>().as('n')).where('heartbeat_at', '>=', heartbeatFresherThan).executeTakeFirst();
    const attempts = await this.db
      .selectFrom('delivery_attempts')
      .select((eb) => [
        eb.fn.countAll<string | number>().as('total'),
        eb.fn.sum<string | number | null>(eb.case().when('error_class', 'in', INTERNAL_ERROR_CLASSES).then(1).else(0).end()).as('internal'),
      ])
      .where('started_at', '>=', attemptsSince)
      .executeTakeFirst();
    const oldest = due?.oldest === null || due?.oldest === undefined ? undefined : Number(due.oldest);
    return {
      oldestDueLagMs: oldest === undefined ? 0 : Math.max(0, now - oldest),
      liveWorkers: Number(workers?.n ?? 0),
      recentAttempts: Number(attempts?.total ?? 0),
      recentInternalFailures: Number(attempts?.internal ?? 0),
    };
  }

  async insertMaintenance(tx: Kysely<Database>, w: MaintenanceWindow): Promise<void> {
    await tx
      .insertInto('status_maintenance')
      .values({ id: w.id, components: w.components.join(','), starts_at: w.startsAt, ends_at: w.endsAt, note: w.note, created_by: w.createdBy, created_at: w.createdAt, cancelled_at: null })
      .execute();
  }

  /** Cancels a window not cancelled yet; false if there is none such. */
  async cancelMaintenance(tx: Kysely<Database>, id: string, at: number): Promise<boolean> {
    const result = await tx.updateTable('status_maintenance').set({ cancelled_at: at }).where('id', '=', id).where('cancelled_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async findMaintenance(id: string): Promise<MaintenanceWindow | undefined> {
    const row = await this.db.selectFrom('status_maintenance').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? windowOf(row) : undefined;
  }

  /** Windows not cancelled that have not ended by `now` (current and scheduled), soonest first. */
  async upcomingMaintenance(now: number, limit: number): Promise<MaintenanceWindow[]> {
    const rows = await this.db.selectFrom('status_maintenance').selectAll().where('cancelled_at', 'is', null).where('ends_at', '>', now).orderBy('starts_at').limit(limit).execute();
    return rows.map(windowOf);
  }

  /** Every window, newest first (staff listings). */
  async listMaintenance(limit: number): Promise<MaintenanceWindow[]> {
    const rows = await this.db.selectFrom('status_maintenance').selectAll().orderBy('starts_at', 'desc').limit(limit).execute();
    return rows.map(windowOf);
  }
}

/** The UTC day of a time, as stored. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
