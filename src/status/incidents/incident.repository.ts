import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { isComponent } from '../component.js';
import type { Impact, Incident, IncidentState, IncidentUpdate, Postmortem } from './incident.js';

function incidentOf(r: Database['status_incidents']): Incident {
  return {
    id: r.id,
    title: r.title,
    impact: r.impact as Impact,
    components: r.components.split(',').filter(isComponent),
    customerVisible: r.customer_visible === 1,
    state: r.state as IncidentState,
    openedBy: r.opened_by,
    openedAt: Number(r.opened_at),
    updatedAt: Number(r.updated_at),
    resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
    postmortemWaiver: r.postmortem_waiver,
  };
}

function updateOf(r: Database['status_updates']): IncidentUpdate {
  return { id: r.id, incidentId: r.incident_id, state: r.state as IncidentState, postedAt: Number(r.posted_at), document: r.document };
}

/** Incidents, their signed updates and postmortems (deployment-wide, public once posted). */
export class IncidentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(tx: Kysely<Database>, incident: Incident): Promise<void> {
    await tx
      .insertInto('status_incidents')
      .values({
        id: incident.id,
        title: incident.title,
        impact: incident.impact,
        components: incident.components.join(','),
        customer_visible: incident.customerVisible ? 1 : 0,
        state: incident.state,
        opened_by: incident.openedBy,
        opened_at: incident.openedAt,
        updated_at: incident.updatedAt,
        resolved_at: null,
        postmortem_waiver: null,
      })
      .execute();
  }

  async find(id: string): Promise<Incident | undefined> {
    const row = await this.db.selectFrom('status_incidents').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? incidentOf(row) : undefined;
  }

  /** Moves the incident only if it is still in `from` (a concurrent update loses). */
  async moveState(tx: Kysely<Database>, id: string, from: IncidentState, to: IncidentState, at: number): Promise<boolean> {
    const result = await tx
      .updateTable('status_incidents')
      .set({ state: to, updated_at: at, ...(to === 'resolved' ? { resolved_at: at } : {}) })
      .where('id', '=', id)
      .where('state', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async setWaiver(tx: Kysely<Database>, id: string, reason: string, at: number): Promise<boolean> {
    const result = await tx
      .updateTable('status_incidents')
      .set({ postmortem_waiver: reason, updated_at: at })
      .where('id', '=', id)
      .where('state', '!=', 'resolved')
      .where('postmortem_waiver', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async touch(tx: Kysely<Database>, id: string, at: number): Promise<void> {
    await tx.updateTable('status_incidents').set({ updated_at: at }).where('id', '=', id).execute();
  }

  async insertUpdate(tx: Kysely<Database>, update: IncidentUpdate): Promise<void> {
    await tx.insertInto('status_updates').values({ id: update.id, incident_id: update.incidentId, state: update.state, posted_at: update.postedAt, document: update.document }).execute();
  }

  /** Inserts the postmortem unless there is one; false if there was. */
  async insertPostmortem(tx: Kysely<Database>, postmortem: Postmortem): Promise<boolean> {
    const result = await tx
      .insertInto('status_postmortems')
      .values({ incident_id: postmortem.incidentId, published_at: postmortem.publishedAt, document: postmortem.document })
      .onConflict((oc) => oc.column('incident_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async postmortem(incidentId: string): Promise<Postmortem | undefined> {
    const row = await this.db.selectFrom('status_postmortems').select(['incident_id', 'published_at', 'document']).where('incident_id', '=', incidentId).executeTakeFirst();
    return row ? { incidentId: row.incident_id, publishedAt: Number(row.published_at), document: row.document } : undefined;
  }

  async waiver(tx: Kysely<Database>, id: string): Promise<string | null> {
    return (await tx.selectFrom('status_incidents').select('postmortem_waiver').where('id', '=', id).executeTakeFirst())?.postmortem_waiver ?? null;
  }

  async hasPostmortem(tx: Kysely<Database>, incidentId: string): Promise<boolean> {
    return (await tx.selectFrom('status_postmortems').select('incident_id').where('incident_id', '=', incidentId).executeTakeFirst()) !== undefined;
  }

  /** Open incidents, and those resolved since `resolvedSince`, newest first. */
  async recent(resolvedSince: number, limit: number): Promise<Incident[]> {
    const rows = await this.db
      .selectFrom('status_incidents')
      .selectAll()
      .where((eb) => eb.or([eb('resolved_at', 'is', null), eb('resolved_at', '>=', resolvedSince)]))
      .orderBy('opened_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(incidentOf);
  }

  async updatesOf(incidentIds: readonly string[]): Promise<IncidentUpdate[]> {
    if (incidentIds.length === 0) return [];
    const rows = await this.db.selectFrom('status_updates').selectAll().where('incident_id', 'in', incidentIds).orderBy('posted_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(updateOf);
  }

  /** The latest updates of every incident (the Atom feed), newest first. */
  async latestUpdates(limit: number): Promise<IncidentUpdate[]> {
    const rows = await this.db.selectFrom('status_updates').selectAll().orderBy('posted_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(updateOf);
  }

  /** Incidents that have a postmortem, among `ids`. */
  async withPostmortem(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('status_postmortems').select('incident_id').where('incident_id', 'in', ids).execute();
    return new Set(rows.map((r) => r.incident_id));
  }
}
