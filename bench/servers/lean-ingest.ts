// Baseline (a, same work): Sealpost's durable ingest written lean, with none of its layers
// (no Kysely, no savepoints, no services, no hooks). Per request, exactly the work Sealpost does
// and no less:
//   - Fastify HTTPS, JSON body; API key from `Authorization: Bearer`, looked up by prefix in
//     `api_keys` (with the tenant's erased mark) and its secret compared by SHA-256;
//   - the RFC 8785 envelope (same canonicaliser), its SHA-256, an AES-256-GCM seal of it with
//     the record cipher's header and context AAD;
//   - an Ed25519-signed `accepted` receipt, its canonical JSON sealed the same way;
//   - two audit events (`receipt.issued`, `api.request`) as canonical JSON with RFC 9162 leaf
//     hashes and the hash chain;
//   - rows: payload, one outbox row per matching destination (read inside the transaction),
//     receipt (with its audit index), two audit events, the log head;
//   - in Sealpost's own schema (BENCH_DB: a database migrated by `sealpost tenants create`),
//     SQLite WAL with synchronous=FULL, group-committed per event-loop turn; 202 after commit.
// Keys live in memory as Sealpost's live in its caches (data key, signing key).
import { randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { ulid } from 'ulid';
import { canonicalizeToBuffer } from '@sealpost/verify';
import { kid, leafHash, leanGroupCommit, seal, sha256, signingKey } from './lean-support.js';

const db = new Database(process.env.BENCH_DB!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');

const KEY_PATTERN = /^sp_live_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;
const findKey = db.prepare<[string], { tenant_id: string; secret_hash: Buffer; revoked_at: number | null; expires_at: number | null; erased_at: number | null }>(
  'select k.tenant_id, k.secret_hash, k.revoked_at, k.expires_at, (select erased_at from tenants t where t.id = k.tenant_id) as erased_at from api_keys k where k.prefix = ?',
);
const findDestinations = db.prepare<[string], { id: string; event_types: string | null }>(
  'select id, event_types from destinations where tenant_id = ? and enabled = 1 and deleted_at is null',
);
const insertPayload = db.prepare('insert into payloads (id, tenant_id, type, channel, envelope_sealed, body_sha256, size, received_at) values (?, ?, ?, ?, ?, ?, ?, ?)');
const insertDelivery = db.prepare(
  "insert into deliveries (id, tenant_id, payload_id, destination_id, status, attempts, next_attempt_at, created_at, updated_at) values (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
);
const insertReceipt = db.prepare('insert into receipts (id, tenant_id, message_id, kind, delivery_id, receipt_sealed, issued_at, audit_index) values (?, ?, ?, ?, null, ?, ?, ?)');
const insertAudit = db.prepare(
  'insert into audit_events (log_index, tenant_id, occurred_at, actor_type, actor_id, action, resource, event, leaf_hash, chain_hash, purged_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)',
);

// The tenant's destination, so each payload writes an outbox row, as in Sealpost's bench.
const tenantId = (db.prepare('select tenant_id from api_keys limit 1').get() as { tenant_id: string }).tenant_id;
const now0 = Date.now();
db.prepare('insert into destinations (id, tenant_id, config_sealed, event_types, enabled, timeout_ms, max_concurrency, created_at, updated_at) values (?, ?, ?, null, 1, 10000, 8, ?, ?)').run(
  `dst_${ulid()}`,
  tenantId,
  randomBytes(200),
  now0,
  now0,
);

interface AuditIn {
  readonly tenant: string;
  readonly time: number;
  readonly actorType: string;
  readonly actorId: string;
  readonly action: string;
  readonly resource: string;
  readonly canonical: Buffer;
  readonly leaf: Buffer;
}

const { commit, appendLeaf } = leanGroupCommit(db);

const app = Fastify({ https: { cert: readFileSync(process.env.BENCH_CERT!), key: readFileSync(process.env.BENCH_KEY!), minVersion: 'TLSv1.2' } });
app.post('/v1/payloads', async (request, reply) => {
  const match = KEY_PATTERN.exec((request.headers.authorization ?? '').replace(/^Bearer /, ''));
  const key = match ? findKey.get(match[1]!) : undefined;
  const presented = match ? sha256(Buffer.from(match[2]!, 'utf8')) : undefined;
  const now = Date.now();
  if (!key || !presented || !timingSafeEqual(presented, key.secret_hash) || key.erased_at !== null || key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= now)) {
    return reply.code(401).send({ code: 'SP_ERR_AUTH_UNAUTHENTICATED' });
  }
  const tenant = key.tenant_id;
  const id = `msg_${ulid(now)}`;
  const envelope = { id, type: 'payload.received', tenant, received_at: new Date(now).toISOString(), source: { channel: 'https', api_key: match![1] }, data: request.body, attachments: [] };
  const canonical = canonicalizeToBuffer(envelope);
  const bodySha256 = sha256(canonical).toString('hex');
  const payloadRow = [id, tenant, 'payload.received', 'https', seal(canonical, tenant, 'payloads', id, 'envelope'), bodySha256, canonical.length, now];

  const unsigned = { v: 1, kind: 'accepted', id: `rcp_${ulid(now)}`, message_id: id, tenant, body_sha256: bodySha256, issued_at: new Date(now).toISOString() };
  const receipt = { ...unsigned, sig: { alg: 'Ed25519', kid, value: sign(null, canonicalizeToBuffer(unsigned), signingKey).toString('base64url') } };
  const receiptCanonical = canonicalizeToBuffer(receipt);
  const time = new Date(now).toISOString();
  const audit = (actorType: string, actorId: string, action: string, event: object): AuditIn => {
    const canonicalEvent = canonicalizeToBuffer({ time, tenant, actor: { type: actorType, id: actorId }, action, resource: receipt.id, ...event });
    return { tenant, time: now, actorType, actorId, action, resource: action === 'api.request' ? id : receipt.id, canonical: canonicalEvent, leaf: leafHash(canonicalEvent) };
  };
  const audits = [
    audit('system', 'sealpost', 'receipt.issued', { details: { kind: 'accepted', message_id: id, sha256: sha256(receiptCanonical).toString('hex') } }),
    audit('api_key', match![1]!, 'api.request', {
      resource: id,
      request: { method: 'POST', route: '/v1/payloads', status: 202, ip: request.ip, user_agent: request.headers['user-agent'] ?? '', request_id: request.id },
    }),
  ] as const;
  const sealedReceipt = seal(receiptCanonical, tenant, 'receipts', receipt.id, 'receipt');
  // One commit per event-loop turn: requests parsed in this turn share its fsync.
  await commit(() => {
    insertPayload.run(...payloadRow);
    for (const d of findDestinations.all(tenant)) {
      if (d.event_types === null || (JSON.parse(d.event_types) as string[]).includes('payload.received')) insertDelivery.run(`dlv_${ulid()}`, tenant, id, d.id, now, now, now);
    }
    let receiptIndex = -1;
    for (const a of audits) {
      const { index, chain } = appendLeaf(a.leaf);
      if (receiptIndex < 0) receiptIndex = index;
      insertAudit.run(index, a.tenant, a.time, a.actorType, a.actorId, a.action, a.resource, a.canonical.toString('utf8'), a.leaf, chain);
    }
    insertReceipt.run(receipt.id, tenant, id, 'accepted', sealedReceipt, now, receiptIndex);
  });
  return reply.code(202).send({ id, receipt });
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`PORT ${(app.server.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => {
    db.close();
    process.exit(0);
  });
});
