import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { DataKeyRepository } from '../../../src/crypto/data-key.repository.js';
import { newId } from '../../../src/crypto/ids.js';
import { LocalKeyring } from '../../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../../src/crypto/record-cipher.js';
import { PayloadRepository } from '../../../src/ingest/payload.repository.js';
import { receiptSealContext } from '../../../src/receipts/receipt.repository.js';
import { runCli } from '../../support/cli.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';

function keyIdOf(sealed: Buffer): string {
  return sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('ascii');
}

describe.each(testDialects())('re-sealing records from before per-tenant keys on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(dialect);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** The cipher of the release before per-tenant keys: every record under the deployment's shared data keys. */
  function legacyCipher(): RecordCipher {
    const keyring = new LocalKeyring(path.join(app.context.config.dataDir, 'keyring'), 365);
    keyring.open();
    return new RecordCipher(keyring, new DataKeyRepository(app.context.database.db));
  }

  it("moves a tenant's old records under its own keys, so that its erasure shreds them; safe to repeat", async () => {
    const { context } = app;
    const db = context.database.db;
    const tenant = await app.createTenant();
    const old = legacyCipher();
    const payloadId = newId('payload');
    const envelope = Buffer.from(JSON.stringify({ id: payloadId, type: 'payload.received', tenant: tenant.tenant, data: { written: 'before the upgrade' } }));
    const sealed = await new PayloadRepository(db, old).seal({ id: payloadId, tenantId: tenant.tenant, type: 'payload.received', channel: 'https', size: envelope.length, bodySha256: 'x'.repeat(64), receivedAt: Date.now(), canonicalEnvelope: envelope }, []);
    await db.transaction().execute((tx) => new PayloadRepository(db, old).insert(tx, sealed));
    const receiptId = newId('receipt');
    const receiptJson = JSON.stringify({ v: 1, kind: 'accepted', id: receiptId, message_id: payloadId, tenant: tenant.tenant });
    await db
      .insertInto('receipts')
      .values({ id: receiptId, tenant_id: tenant.tenant, message_id: payloadId, kind: 'accepted', delivery_id: null, receipt_sealed: await old.encrypt(receiptJson, receiptSealContext(tenant.tenant, receiptId)), issued_at: Date.now(), audit_index: null })
      .execute();
    const sharedKey = keyIdOf(sealed.payload.envelope_sealed);
    expect((await new DataKeyRepository(db).find(sharedKey))?.tenantId).toBeNull();

    const env = {
      SEALPOST_DATA_DIR: context.config.dataDir,
      SEALPOST_DATABASE_URL: app.testDb.config.dialect === 'postgres' ? app.testDb.config.url : `sqlite:${app.testDb.config.file}`,
      SEALPOST_LOG_LEVEL: 'warn',
    };
    const first = await runCli(['keys', 'reseal-legacy', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ resealed: 2, by_table: { payloads: 1, receipts: 1 } });

    const row = await db.selectFrom('payloads').select('envelope_sealed').where('id', '=', payloadId).executeTakeFirstOrThrow();
    expect((await new DataKeyRepository(db).find(keyIdOf(Buffer.from(row.envelope_sealed))))?.tenantId).toBe(tenant.tenant);
    expect((await context.payloadRepository.find(tenant.tenant, payloadId))?.canonicalEnvelope.equals(envelope)).toBe(true);
    expect((await context.receipts.repository.find(tenant.tenant, receiptId))?.json).toBe(receiptJson);

    const again = await runCli(['keys', 'reseal-legacy', '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ resealed: 0 });
    const events = await db.selectFrom('audit_events').select('event').where('action', '=', 'legacy_data.resealed').execute();
    expect(events.map((e) => JSON.parse(e.event!) as AuditEvent)[0]).toMatchObject({ tenant: null, actor: { type: 'system', id: 'sealpost-cli' }, details: { resealed: 2 } });

    await context.erasure.erase(tenant.tenant, { type: 'system', id: 'test' }, 'cli');
    await expect(context.payloadRepository.find(tenant.tenant, payloadId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    await expect(context.receipts.repository.find(tenant.tenant, receiptId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
  });
});
