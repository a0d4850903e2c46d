import { sql, type Kysely, type RawBuilder } from 'kysely';
import { connectionWithoutFsync, transactionWithoutFsync } from '../db/commit-without-fsync.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
import type { Dialect } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { destinationConfigContext, type DestinationSecrets } from './destination.repository.js';
import { newId } from '../crypto/ids.js';
import { HotStatement } from '../db/direct-statement.js';

/**
 * A claim considers at most this many destinations (those whose oldest due delivery is oldest),
 * so its cost is bounded by the work it can hand out, not by the backlog or the tenant count.
 */
const CLAIM_MAX_DESTINATIONS = 64;
/**
 * A lease lasts the destination's request timeout plus this margin (decrypting, recording the
 * attempt), so a live worker never loses its lease mid-send and a dead worker's claims come
 * back soon after.
 */
export const LEASE_MARGIN_MS = 30_000;

/** SEALPOST_MAX_FANOUT_PER_PAYLOAD's effective default: the default destination cap, so it never bites unless lowered. */
export const DEFAULT_MAX_FANOUT = 50;

/** The ingest hook with the configured fan-out cap (SEALPOST_MAX_FANOUT_PER_PAYLOAD, else the destination cap). */
export function cappedEnqueue(config: { readonly maxFanoutPerPayload?: number | undefined; readonly maxDestinationsPerTenant: number }) {
  const limits = { maxFanout: config.maxFanoutPerPayload ?? config.maxDestinationsPerTenant };
  return (tx: Kysely<Database>, input: { tenantId: string; payloadId: string; type: string; now: number }): Promise<number> => enqueueDeliveries(tx, input, limits);
}

// Both run in every ingest: direct statements inside a group commit (src/db/direct-statement.ts).
const ENABLED_DESTINATIONS = new HotStatement<{ id: string; event_types: string | null }>(
  'select id, event_types from destinations where tenant_id = ? and enabled = 1 and deleted_at is null',
);
const INSERT_DELIVERIES = new Map<number, HotStatement>();
/** One statement per row count (at most the fan-out cap, so a few dozen texts at most). */
function insertDeliveries(rows: number): HotStatement {
  let statement = INSERT_DELIVERIES.get(rows);
  if (!statement) {
    const row = "(?, ?, ?, ?, 'pending', 0, ?, ?, ?)";
    statement = new HotStatement(
      `insert into deliveries (id, tenant_id, payload_id, destination_id, status, attempts, next_attempt_at, created_at, updated_at) values ${Array(rows).fill(row).join(', ')}`,
    );
    INSERT_DELIVERIES.set(rows, statement);
  }
  return statement;
}

/**
 * Writes one pending delivery per enabled destination of the tenant whose event filter matches,
 * due at once. Called inside the ingest transaction (DESIGN §7: a payload is acknowledged only
 * with its outbox rows). Returns how many were written.
 *
 * A payload that matches more than `maxFanout` destinations is refused as a whole, which rolls
 * back the ingest: the sender learns of it, and no destination silently misses the payload.
 */
export async function enqueueDeliveries(
  tx: Kysely<Database>,
  input: { tenantId: string; payloadId: string; type: string; now: number },
  limits: { maxFanout: number } = { maxFanout: DEFAULT_MAX_FANOUT },
): Promise<number> {
  const destinations = await ENABLED_DESTINATIONS.execute(tx, [input.tenantId]);
  const matching = destinations.filter((d) => d.event_types === null || (JSON.parse(d.event_types) as string[]).includes(input.type));
  if (matching.length === 0) return 0;
  if (matching.length > limits.maxFanout) {
    throw new SealpostError('SP_ERR_INGEST_FANOUT_EXCEEDED', `This payload matches ${matching.length} destinations; at most ${limits.maxFanout} are allowed`, {
      logDetail: { tenantId: input.tenantId, matching: matching.length, maxFanout: limits.maxFanout },
    });
  }
  const values = matching.flatMap((d) => [newId('delivery'), input.tenantId, input.payloadId, d.id, input.now, input.now, input.now]);
  await insertDeliveries(matching.length).execute(tx, values);
  return matching.length;
}

/** A delivery leased to this worker. `attempt` is the number of the attempt it is about to make. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly tenantId: string;
  readonly payloadId: string;
  readonly destinationId: string;
  readonly attempt: number;
  readonly timeoutMs: number;
  readonly failingSince: number | null;
  /** Set when the previous lease expired unreleased: that worker died mid-attempt. */
  readonly lostLeaseOwner: string | null;
}

export interface SendMaterial extends DestinationSecrets {
  /** The canonical envelope bytes, exactly as stored. */
  readonly body: Buffer;
}

interface ClaimRow {
  id: string;
  tenant_id: string;
  payload_id: string;
  destination_id: string;
  attempts: number;
  prev_owner: string | null;
  timeout_ms: number;
  failing_since: number | null;
}

interface LeaseRequest {
  readonly workerId: string;
  readonly now: number;
  readonly limit: number;
  readonly marginMs: number;
}

function bigint(value: number): RawBuilder<number> {
  // PostgreSQL would otherwise type the parameter after the int4 column it meets first.
  return sql<number>`cast(${value} as bigint)`;
}

/** A destination with due work and `capacity` free slots (max_concurrency minus leases in flight). */
interface OpenDestination {
  id: string;
  capacity: number;
}

/**
 * Enabled destinations below their concurrency limit that have a due, unleased delivery, the
 * longest-waiting first. Destinations at their limit are left out here, before any delivery is
 * read: scanning the due rows and discarding a saturated destination's afterwards made every
 * claim read that destination's whole backlog.
 */
async function openDestinations(db: Kysely<Database>, now: number, max: number, onlyIds?: readonly string[]): Promise<OpenDestination[]> {
  const t = bigint(now);
  const only = onlyIds ? sql`and ds.id in (${sql.join(onlyIds)})` : sql``;
  const { rows } = await sql<{ id: string; capacity: number }>`
    with active as (
      -- Leases in flight: only those rows have an owner (completing an attempt clears it), and the
      -- partial index deliveries_leased holds just them.
      select destination_id, count(*) as n from deliveries
      where lease_owner is not null and lease_expires_at >= ${t}
      group by destination_id
    ),
    open as (
      select ds.id, ds.max_concurrency - coalesce(a.n, 0) as capacity,
        (select min(d.next_attempt_at) from deliveries d
          where d.destination_id = ds.id and d.status = 'pending' and d.next_attempt_at <= ${t}
            and (d.lease_expires_at is null or d.lease_expires_at < ${t})) as oldest
      from destinations ds
      left join active a on a.destination_id = ds.id
      where ds.enabled = 1 and ds.deleted_at is null and coalesce(a.n, 0) < ds.max_concurrency ${only}
    )
    select id, capacity from open where oldest is not null order by oldest, id limit ${max}`.execute(db);
  return rows.map((r) => ({ id: r.id, capacity: Number(r.capacity) }));
}

/**
 * The due, unleased deliveries to lease from `open`: at most `capacity` of each destination,
 * its oldest first (index deliveries_destination_due), so a claim reads only what it may take.
 */
function dueCandidates(open: readonly OpenDestination[], now: number): RawBuilder<unknown> {
  const t = bigint(now);
  const perDestination = open.map(
    (o) => sql`select * from (
      select id, next_attempt_at from deliveries
      where destination_id = ${o.id} and status = 'pending' and next_attempt_at <= ${t}
        and (lease_expires_at is null or lease_expires_at < ${t})
      order by next_attempt_at, id
      limit ${o.capacity}) as one_destination`,
  );
  return sql`candidates as (${sql.join(perDestination, sql` union all `)})`;
}

/** The worker's side of the outbox: claim with a lease, load what to send. */
export class OutboxRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly cipher: RecordCipher,
  ) {}

  /**
   * Leases up to `limit` due deliveries to `workerId` and counts the attempt, never more per
   * destination than its max_concurrency minus the leases in flight (any worker's). PostgreSQL:
   * the destinations' rows serialise concurrent claims, and delivery rows are taken `FOR UPDATE
   * SKIP LOCKED`. SQLite: the same inside one immediate (write-locked) transaction.
   */
  async claim(workerId: string, now: number, limit: number, leaseMarginMs = LEASE_MARGIN_MS): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    const lease = { workerId, now, limit, marginMs: leaseMarginMs };
    const rows = this.dialect === 'postgres' ? await this.claimPostgres(lease) : await this.claimSqlite(lease);
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      payloadId: r.payload_id,
      destinationId: r.destination_id,
      attempt: Number(r.attempts),
      timeoutMs: Number(r.timeout_ms),
      failingSince: r.failing_since === null ? null : Number(r.failing_since),
      lostLeaseOwner: r.prev_owner,
    }));
  }

  private async claimPostgres({ workerId, now, limit, marginMs }: LeaseRequest): Promise<ClaimRow[]> {
    const seen = await openDestinations(this.db, now, Math.min(limit, CLAIM_MAX_DESTINATIONS));
    if (seen.length === 0) return [];
    // A lease needs no wait for the disk: losing it re-sends (src/db/commit-without-fsync.ts).
    return transactionWithoutFsync(this.db, 'postgres', async (tx) => {
      // Concurrent claims for one destination queue up on its row (in id order, so two claims
      // cannot deadlock), and each then counts the leases the one before it committed: that is
      // what keeps max_concurrency exact across workers. Claims are short; sends happen outside.
      await sql`select id from destinations where id in (${sql.join(seen.map((o) => o.id))}) order by id for update`.execute(tx);
      const open = await openDestinations(tx, now, seen.length, seen.map((o) => o.id));
      if (open.length === 0) return [];
      return this.leasePostgres(tx, open, { workerId, now, limit, marginMs });
    });
  }

  private async leasePostgres(tx: Kysely<Database>, open: readonly OpenDestination[], { workerId, now, limit, marginMs }: LeaseRequest): Promise<ClaimRow[]> {
    const t = bigint(now);
    const result = await sql<ClaimRow>`
      with ${dueCandidates(open, now)},
      picked as (
        select d.id, d.lease_owner as prev_owner
        from deliveries d join candidates c on c.id = d.id
        where d.status = 'pending' and (d.lease_expires_at is null or d.lease_expires_at < ${t})
        order by c.next_attempt_at, d.id
        limit ${limit}
        for update of d skip locked
      )
      update deliveries
      set lease_owner = ${workerId}, lease_expires_at = ${t} + ds.timeout_ms + ${marginMs},
          attempts = deliveries.attempts + 1, updated_at = ${t}
      from picked, destinations ds
      where deliveries.id = picked.id and ds.id = deliveries.destination_id
      returning deliveries.id, deliveries.tenant_id, deliveries.payload_id, deliveries.destination_id,
        deliveries.attempts, picked.prev_owner, ds.timeout_ms, ds.failing_since`.execute(tx);
    return result.rows;
  }

  private async claimSqlite({ workerId, now, limit, marginMs }: LeaseRequest): Promise<ClaimRow[]> {
    // A lease needs no fsync of its own: losing it re-sends (src/db/commit-without-fsync.ts).
    return connectionWithoutFsync(this.db, async (conn) => {
      // BEGIN IMMEDIATE takes the write lock first, so a reader cannot fail to upgrade (SQLITE_BUSY).
      await sql`begin immediate`.execute(conn);
      try {
        const open = await openDestinations(conn, now, Math.min(limit, CLAIM_MAX_DESTINATIONS));
        const picked =
          open.length === 0
            ? { rows: [] as ClaimRow[] }
            : await sql<ClaimRow>`
          with ${dueCandidates(open, now)}
          select d.id, d.tenant_id, d.payload_id, d.destination_id, d.attempts + 1 as attempts,
            d.lease_owner as prev_owner, ds.timeout_ms, ds.failing_since
          from candidates c
          join deliveries d on d.id = c.id
          join destinations ds on ds.id = d.destination_id
          order by c.next_attempt_at, d.id
          limit ${limit}`.execute(conn);
        const ids = picked.rows.map((r) => r.id);
        if (ids.length > 0) {
          await sql`
            update deliveries
            set lease_owner = ${workerId},
                lease_expires_at = ${now} + (select timeout_ms from destinations ds where ds.id = deliveries.destination_id) + ${marginMs},
                attempts = attempts + 1, updated_at = ${now}
            where id in (${sql.join(ids)})`.execute(conn);
        }
        await sql`commit`.execute(conn);
        return picked.rows;
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Decrypted envelope bytes, URL and headers for claimed deliveries, by delivery id; an Error
   * for a row that cannot be decrypted, so one bad row does not hold up the others.
   */
  async loadMaterial(claimed: readonly ClaimedDelivery[]): Promise<Map<string, SendMaterial | Error>> {
    const material = new Map<string, SendMaterial | Error>();
    if (claimed.length === 0) return material;
    const rows = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('payloads as p', 'p.id', 'd.payload_id')
      .innerJoin('destinations as ds', 'ds.id', 'd.destination_id')
      .select(['d.id', 'd.tenant_id', 'd.payload_id', 'd.destination_id', 'p.envelope_sealed', 'ds.config_sealed'])
      .where('d.id', 'in', claimed.map((c) => c.id))
      .execute();
    for (const row of rows) {
      try {
        const body = await this.cipher.decrypt(Buffer.from(row.envelope_sealed), {
          tenant: row.tenant_id,
          table: 'payloads',
          id: row.payload_id,
          field: 'envelope',
        });
        const secrets = await this.cipher.decryptJson<DestinationSecrets>(
          Buffer.from(row.config_sealed),
          destinationConfigContext(row.tenant_id, row.destination_id),
        );
        material.set(row.id, { body, url: secrets.url, headers: secrets.headers });
      } catch (err) {
        material.set(row.id, err instanceof Error ? err : new Error(String(err)));
      }
    }
    return material;
  }
}
