import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Audit actions that change a key: the key-rotation history an auditor asks for. */
export const KEY_ACTIONS = ['signing_key.rotated', 'kek.rotated', 'security_key.created', 'security_key.imported', 'keys.recovery_exported', 'keys.recovery_imported'] as const;

export interface TimeRange {
  readonly from: number;
  /** Exclusive. */
  readonly to: number;
}

/**
 * The deployment's records for the compliance evidence bundle, within a time range. Operator
 * material (`sealpost compliance evidence`), never served over HTTP; columns are selected
 * explicitly and no sealed column is read.
 */
export class EvidenceRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Key events as logged (the canonical event text, which the audit log's leaf hashes cover). */
  async keyEvents(range: TimeRange): Promise<{ index: number; event: unknown }[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .select(['log_index', 'event'])
      .where('action', 'in', [...KEY_ACTIONS])
      .where('occurred_at', '>=', range.from)
      .where('occurred_at', '<', range.to)
      .orderBy('log_index')
      .execute();
    return rows.filter((r) => r.event !== null).map((r) => ({ index: Number(r.log_index), event: JSON.parse(r.event!) as unknown }));
  }

  async kekVersions(): Promise<{ kek_ref: string; version: number; created_at: string }[]> {
    const rows = await this.db.selectFrom('kek_versions').select(['kek_ref', 'version', 'created_at']).orderBy('version').execute();
    return rows.map((r) => ({ kek_ref: r.kek_ref, version: Number(r.version), created_at: new Date(Number(r.created_at)).toISOString() }));
  }

  /** Per-tenant signing keys activated or replaced in the range: public facts only (never the sealed private key). */
  async signingKeys(range: TimeRange): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .select(['kid', 'tenant_id', 'state', 'activated_at', 'replaced_at', 'retired_at'])
      .where((eb) => eb.or([eb.and([eb('activated_at', '>=', range.from), eb('activated_at', '<', range.to)]), eb.and([eb('replaced_at', '>=', range.from), eb('replaced_at', '<', range.to)])]))
      .orderBy('activated_at')
      .execute();
    const at = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());
    return rows.map((r) => ({ kid: r.kid, tenant: r.tenant_id, state: r.state, activated_at: at(r.activated_at), replaced_at: at(r.replaced_at), retired_at: at(r.retired_at) }));
  }

  async snapshots(range: TimeRange): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom('backup_snapshots')
      .select(['id', 'created_at', 'environment', 'dialect', 'database_bytes', 'blob_count', 'blob_bytes', 'manifest_sha256', 'database_sha256', 'blobs_sha256', 'target', 'replica', 'pruned_at'])
      .where('created_at', '>=', range.from)
      .where('created_at', '<', range.to)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ ...r, created_at: new Date(Number(r.created_at)).toISOString(), pruned_at: r.pruned_at === null ? null : new Date(Number(r.pruned_at)).toISOString() }));
  }

  async drills(range: TimeRange): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom('backup_drills')
      .select(['id', 'started_at', 'snapshot_id', 'source', 'rto_ms', 'passed', 'report', 'report_sha256'])
      .where('started_at', '>=', range.from)
      .where('started_at', '<', range.to)
      .orderBy('started_at')
      .execute();
    return rows.map((r) => ({ ...r, started_at: new Date(Number(r.started_at)).toISOString(), rto_ms: Number(r.rto_ms), passed: Number(r.passed) === 1, report: JSON.parse(r.report) as unknown }));
  }

  /** Staff access grants requested in the range, with their whole life (decisions, expiry, revocation). */
  async staffGrants(range: TimeRange): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom('staff_grants')
      .leftJoin('staff_members as requester', 'requester.id', 'staff_grants.requester_id')
      .leftJoin('staff_members as approver', 'approver.id', 'staff_grants.approver_id')
      .select([
        'staff_grants.id',
        'staff_grants.tenant_id',
        'requester.email as requester',
        'approver.email as approver',
        'staff_grants.scope',
        'staff_grants.reason',
        'staff_grants.state',
        'staff_grants.break_glass',
        'staff_grants.requested_at',
        'staff_grants.decided_at',
        'staff_grants.expires_at',
        'staff_grants.revoked_at',
      ])
      .where('staff_grants.requested_at', '>=', range.from)
      .where('staff_grants.requested_at', '<', range.to)
      .orderBy('staff_grants.requested_at')
      .execute();
    const at = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());
    return rows.map((r) => ({
      id: r.id,
      tenant: r.tenant_id,
      requester: r.requester,
      approver: r.approver,
      scope: r.scope,
      reason: r.reason,
      state: r.state,
      break_glass: Number(r.break_glass) === 1,
      requested_at: at(r.requested_at),
      decided_at: at(r.decided_at),
      expires_at: at(r.expires_at),
      revoked_at: at(r.revoked_at),
    }));
  }

  async checkpoints(range: TimeRange): Promise<{ tree_size: number; seq: number | null; created_at: string; key_id: string; note: string }[]> {
    const rows = await this.db
      .selectFrom('audit_checkpoints')
      .select(['tree_size', 'seq', 'created_at', 'key_id', 'note'])
      .where('created_at', '>=', range.from)
      .where('created_at', '<', range.to)
      .orderBy('tree_size')
      .execute();
    return rows.map((r) => ({ tree_size: Number(r.tree_size), seq: r.seq === null ? null : Number(r.seq), created_at: new Date(Number(r.created_at)).toISOString(), key_id: r.key_id, note: r.note }));
  }
}
