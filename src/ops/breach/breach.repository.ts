import type { Kysely } from 'kysely';
import type { RecordCipher } from '../../crypto/record-cipher.js';
import type { Database } from '../../db/schema.js';

export interface BreachRecord {
  readonly id: string;
  readonly incidentId: string | null;
  readonly title: string;
  readonly declaredBy: string;
  readonly declaredAt: number;
}

export interface BreachNotice {
  readonly breachId: string;
  readonly tenantId: string;
  readonly clockStartedAt: number;
  readonly deadlineAt: number;
  readonly notifiedAt: number | null;
  readonly notifiedBy: string | null;
  readonly notifiedVia: 'email' | 'manual' | null;
  readonly recipients: number | null;
  readonly acknowledgedAt: number | null;
  readonly alerted48hAt: number | null;
  readonly alerted66hAt: number | null;
}

const NOTICE_COLUMNS = [
  'breach_id',
  'tenant_id',
  'clock_started_at',
  'deadline_at',
  'notified_at',
  'notified_by',
  'notified_via',
  'recipients',
  'acknowledged_at',
  'alerted_48h_at',
  'alerted_66h_at',
] as const;

type NoticeRow = Pick<Database['breach_notices'], (typeof NOTICE_COLUMNS)[number]>;

function toNotice(row: NoticeRow): BreachNotice {
  return {
    breachId: row.breach_id,
    tenantId: row.tenant_id,
    clockStartedAt: row.clock_started_at,
    deadlineAt: row.deadline_at,
    notifiedAt: row.notified_at,
    notifiedBy: row.notified_by,
    notifiedVia: row.notified_via === 'email' || row.notified_via === 'manual' ? row.notified_via : null,
    recipients: row.recipients,
    acknowledgedAt: row.acknowledged_at,
    alerted48hAt: row.alerted_48h_at,
    alerted66hAt: row.alerted_66h_at,
  };
}

const summaryContext = (deploymentTenant: string, breachId: string) => ({ tenant: deploymentTenant, table: 'breaches', id: breachId, field: 'summary' });

/**
 * Breaches and their per-tenant notices. A breach is the deployment's record (its summary sealed
 * under the deployment tenant's keys); each notice row is one affected tenant's clock. Every change
 * of a notice is a guarded update (`… where notified_at is null`), so two processes never both
 * record a sending, an acknowledgement or an alert.
 */
export class BreachRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cipher: RecordCipher,
    private readonly deploymentTenant: string,
  ) {}

  sealSummary(breachId: string, summary: string): Promise<Buffer> {
    return this.cipher.encrypt(summary, summaryContext(this.deploymentTenant, breachId));
  }

  async summary(breachId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('breaches').select(['summary_sealed']).where('id', '=', breachId).executeTakeFirst();
    return row && (await this.cipher.decrypt(Buffer.from(row.summary_sealed), summaryContext(this.deploymentTenant, breachId))).toString('utf8');
  }

  async insert(breach: BreachRecord, summarySealed: Buffer, tenants: readonly string[], window: number, tx: Kysely<Database>): Promise<void> {
    await tx
      .insertInto('breaches')
      .values({ id: breach.id, incident_id: breach.incidentId, title: breach.title, summary_sealed: summarySealed, declared_by: breach.declaredBy, declared_at: breach.declaredAt })
      .execute();
    await tx
      .insertInto('breach_notices')
      .values(tenants.map((tenant) => ({ breach_id: breach.id, tenant_id: tenant, clock_started_at: breach.declaredAt, deadline_at: breach.declaredAt + window })))
      .execute();
  }

  async find(id: string): Promise<BreachRecord | undefined> {
    const row = await this.db.selectFrom('breaches').select(['id', 'incident_id', 'title', 'declared_by', 'declared_at']).where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, incidentId: row.incident_id, title: row.title, declaredBy: row.declared_by, declaredAt: row.declared_at };
  }

  async list(limit: number): Promise<BreachRecord[]> {
    const rows = await this.db.selectFrom('breaches').select(['id', 'incident_id', 'title', 'declared_by', 'declared_at']).orderBy('declared_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map((row) => ({ id: row.id, incidentId: row.incident_id, title: row.title, declaredBy: row.declared_by, declaredAt: row.declared_at }));
  }

  async notices(breachId: string): Promise<BreachNotice[]> {
    const rows = await this.db.selectFrom('breach_notices').select(NOTICE_COLUMNS).where('breach_id', '=', breachId).orderBy('tenant_id').execute();
    return rows.map(toNotice);
  }

  async notice(breachId: string, tenantId: string): Promise<BreachNotice | undefined> {
    const row = await this.db.selectFrom('breach_notices').select(NOTICE_COLUMNS).where('breach_id', '=', breachId).where('tenant_id', '=', tenantId).executeTakeFirst();
    return row && toNotice(row);
  }

  /** Notices not yet sent, oldest clock first. */
  async unsent(limit: number): Promise<BreachNotice[]> {
    const rows = await this.db.selectFrom('breach_notices').select(NOTICE_COLUMNS).where('notified_at', 'is', null).orderBy('clock_started_at').orderBy('breach_id').orderBy('tenant_id').limit(limit).execute();
    return rows.map(toNotice);
  }

  /** Records the sending; false if it was already recorded. */
  async markNotified(
    breachId: string,
    tenantId: string,
    sent: { at: number; by: string; via: 'email' | 'manual'; recipients: number; ackTokenSha256: string | null },
    tx: Kysely<Database>,
  ): Promise<boolean> {
    const result = await tx
      .updateTable('breach_notices')
      .set({ notified_at: sent.at, notified_by: sent.by, notified_via: sent.via, recipients: sent.recipients, ack_token_sha256: sent.ackTokenSha256 })
      .where('breach_id', '=', breachId)
      .where('tenant_id', '=', tenantId)
      .where('notified_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async findByAckToken(sha256: string): Promise<BreachNotice | undefined> {
    const row = await this.db.selectFrom('breach_notices').select(NOTICE_COLUMNS).where('ack_token_sha256', '=', sha256).executeTakeFirst();
    return row && toNotice(row);
  }

  /** Records the acknowledgement and burns the one-time token; false if already acknowledged. */
  async markAcknowledged(breachId: string, tenantId: string, at: number, tx: Kysely<Database>): Promise<boolean> {
    const result = await tx
      .updateTable('breach_notices')
      .set({ acknowledged_at: at, ack_token_sha256: null })
      .where('breach_id', '=', breachId)
      .where('tenant_id', '=', tenantId)
      .where('notified_at', 'is not', null)
      .where('acknowledged_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Unsent notices whose clock has run at least `sinceStartMs` and that have no `column` alert yet. */
  async dueAlerts(column: 'alerted_48h_at' | 'alerted_66h_at', startedBefore: number): Promise<BreachNotice[]> {
    const rows = await this.db
      .selectFrom('breach_notices')
      .select(NOTICE_COLUMNS)
      .where('notified_at', 'is', null)
      .where(column, 'is', null)
      .where('clock_started_at', '<=', startedBefore)
      .orderBy('breach_id')
      .orderBy('tenant_id')
      .execute();
    return rows.map(toNotice);
  }

  /** Records an alert; false if another run recorded it (or the notice was sent meanwhile). */
  async markAlerted(breachId: string, tenantId: string, column: 'alerted_48h_at' | 'alerted_66h_at', at: number, tx: Kysely<Database>): Promise<boolean> {
    const result = await tx
      .updateTable('breach_notices')
      .set(column === 'alerted_66h_at' ? { alerted_66h_at: at } : { alerted_48h_at: at })
      .where('breach_id', '=', breachId)
      .where('tenant_id', '=', tenantId)
      .where('notified_at', 'is', null)
      .where(column, 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** The `breach.notice_sent` events of one tenant for one breach: what `show` checks each sent mark against. */
  async sentEvents(tenantId: string, breachId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .select(['event'])
      .where('tenant_id', '=', tenantId)
      .where('action', '=', 'breach.notice_sent')
      .where('resource', '=', breachId)
      .execute();
    return rows.flatMap((row) => (row.event === null ? [] : [row.event]));
  }
}
