import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../src/crypto/record-cipher.js';
import { ulid } from '../../src/crypto/ulid.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { idempotencyKeySha256, PayloadRepository } from '../../src/ingest/payload.repository.js';
import { newInboxToken } from '../../src/ingest/smtp/inbox-address.js';
import { InboxRepository, inboxTokenSha256 } from '../../src/ingest/smtp/inbox.repository.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

/** Every stored value of the rows as text (bytes as latin1), to search for a plain credential. */
function storedText(rows: readonly Record<string, unknown>[]): string {
  return rows
    .flatMap((row) => Object.values(row))
    .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v)))
    .join('\n');
}

describe.each(testDialects())('migration 0010 (hashed credentials) on %s', (dialect) => {
  let testDb: TestDatabase;
  beforeEach(async () => {
    testDb = await createTestDatabase(dialect);
  });
  afterEach(async () => {
    await testDb.dispose();
  });

  /** A database as it was before 0010 (plain tokens and keys), a cipher over it, and one tenant. */
  async function databaseBefore0010(): Promise<{ handle: ReturnType<TestDatabase['open']>; cipher: RecordCipher; tenant: string }> {
    const handle = testDb.open();
    await migrateToLatest(handle.db, handle.dialect, { stopAfter: '0009-rate-limit-windows' });
    const keyring = new LocalKeyring(path.join(testDb.dir, 'keyring'), 365);
    keyring.open();
    const cipher = new RecordCipher(keyring, new DataKeyRepository(handle.db));
    const tenant = `ten_${ulid()}`;
    await handle.db.insertInto('tenants').values({ id: tenant, name: 'Before', plan: 'starter', created_at: Date.now() }).execute();
    return { handle, cipher, tenant };
  }

  it('keeps no plain inbox token or Idempotency-Key, and migrated inboxes and keys still work', async () => {
    // The database as it was before 0010: plain tokens and keys.
    const { handle, cipher, tenant } = await databaseBefore0010();
    const now = Date.now();
    const live = { id: `inb_${ulid()}`, token: newInboxToken() };
    const deleted = { id: `inb_${ulid()}`, token: newInboxToken() };
    await sql`insert into inboxes (id, tenant_id, token, dmarc_policy, created_at, deleted_at) values
      (${live.id}, ${tenant}, ${live.token}, 'accept', ${now}, null),
      (${deleted.id}, ${tenant}, ${deleted.token}, 'accept', ${now}, ${now})`.execute(handle.db);
    const key = 'order-2026-secret-77';
    const response = { id: `msg_${ulid()}`, status: 'accepted' };
    const sealed = await cipher.encryptJson(response, { tenant, table: 'idempotency_keys', id: key, field: 'response' });
    await sql`insert into idempotency_keys (tenant_id, key, request_sha256, payload_id, response_sealed, created_at)
      values (${tenant}, ${key}, ${'ab'.repeat(32)}, ${response.id}, ${sealed}, ${now})`.execute(handle.db);

    await migrateToLatest(handle.db, handle.dialect);

    const idempotency = await handle.db.selectFrom('idempotency_keys').selectAll().execute();
    expect(idempotency.map((r) => r.key_sha256)).toEqual([idempotencyKeySha256(tenant, key)]);
    expect(storedText(idempotency)).not.toContain(key);
    const payloads = new PayloadRepository(handle.db, cipher);
    expect(await payloads.findIdempotent(tenant, key, 0)).toEqual({ requestSha256: 'ab'.repeat(32), response });

    // The deleted inbox is blanked at once; the live one until the repository first reads it.
    const inboxes = new InboxRepository(handle.db, cipher);
    const deletedRow = await handle.db.selectFrom('inboxes').selectAll().where('id', '=', deleted.id).executeTakeFirstOrThrow();
    expect(storedText([deletedRow])).not.toContain(deleted.token);
    expect(deletedRow.token_sha256).toBe(inboxTokenSha256(deleted.token));
    expect(await inboxes.findActiveByToken(deleted.token)).toBeUndefined();
    expect(await inboxes.findActiveByToken(live.token)).toMatchObject({ id: live.id, tenantId: tenant, token: live.token });
    const rows = await handle.db.selectFrom('inboxes').selectAll().execute();
    expect(storedText(rows)).not.toContain(live.token);
    expect((await inboxes.listActive(tenant)).map((i) => [i.id, i.token])).toEqual([[live.id, live.token]]);
    expect(await inboxes.findActiveByToken(live.token)).toMatchObject({ id: live.id });
  });

  it('seals a migrated inbox token when the inbox is first listed', async () => {
    const { handle, cipher, tenant } = await databaseBefore0010();
    const token = newInboxToken();
    await sql`insert into inboxes (id, tenant_id, token, dmarc_policy, created_at, deleted_at) values (${`inb_${ulid()}`}, ${tenant}, ${token}, 'reject', ${Date.now()}, null)`.execute(handle.db);
    await migrateToLatest(handle.db, handle.dialect);
    const inboxes = new InboxRepository(handle.db, cipher);
    expect((await inboxes.listActive(tenant)).map((i) => i.token)).toEqual([token]);
    expect(storedText(await handle.db.selectFrom('inboxes').selectAll().execute())).not.toContain(token);
    expect((await inboxes.listActive(tenant)).map((i) => i.token)).toEqual([token]);
  });

  it('seals every migrated live inbox token at start, before any read', async () => {
    const { handle, cipher, tenant } = await databaseBefore0010();
    const tokens = [newInboxToken(), newInboxToken()];
    for (const token of tokens) {
      await sql`insert into inboxes (id, tenant_id, token, dmarc_policy, created_at, deleted_at) values (${`inb_${ulid()}`}, ${tenant}, ${token}, 'accept', ${Date.now()}, null)`.execute(handle.db);
    }
    await migrateToLatest(handle.db, handle.dialect);
    const inboxes = new InboxRepository(handle.db, cipher);
    expect(await inboxes.sealLegacyTokens()).toBe(2);
    const stored = storedText(await handle.db.selectFrom('inboxes').selectAll().execute());
    for (const token of tokens) expect(stored).not.toContain(token);
    expect(await inboxes.sealLegacyTokens()).toBe(0);
    expect((await inboxes.listActive(tenant)).map((i) => i.token).sort()).toEqual([...tokens].sort());
  });
});
