import path from 'node:path';
import type { Kysely } from 'kysely';
import { createAuditServices, type AuditServices } from '../../src/app/audit-services.js';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../src/crypto/record-cipher.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import type { TestDatabase } from '../support/test-database.js';
import { TenantRepository } from '../../src/identity/tenant.repository.js';

export const ORIGIN = 'sealpost.test/audit';

/** The data dir of a test database: the keyring lives here, where the CLI looks for it. */
export function dataDirOf(testDb: TestDatabase): string {
  return path.join(testDb.dir, 'data');
}

export function cipherFor(testDb: TestDatabase, handle: DatabaseHandle): RecordCipher {
  const keyring = new LocalKeyring(path.join(dataDirOf(testDb), 'keyring'), 365);
  keyring.open();
  return new RecordCipher(keyring, new DataKeyRepository(handle.db));
}

export function servicesFor(testDb: TestDatabase, handle: DatabaseHandle, now?: () => number): AuditServices {
  const tenants = new TenantRepository(handle.db);
  return createAuditServices({
    db: handle.db,
    dialect: handle.dialect,
    cipher: cipherFor(testDb, handle),
    origin: ORIGIN,
    planOf: async (tenantId) => (await tenants.find(tenantId))?.plan,
    now,
  });
}

/** Environment for `sealpost` runs against this database. */
export function cliEnvFor(testDb: TestDatabase): Record<string, string> {
  return {
    SEALPOST_DATA_DIR: dataDirOf(testDb),
    SEALPOST_DATABASE_URL: testDb.config.dialect === 'postgres' ? testDb.config.url : `sqlite:${testDb.config.file}`,
    SEALPOST_LOG_LEVEL: 'warn',
  };
}

export function sampleEvent(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    tenant: i % 3 === 0 ? null : `ten_${i % 2 === 0 ? 'A' : 'B'}`,
    actor: { type: 'api_key', id: `pfx${i % 5}` },
    action: 'api_key.created',
    resource: `key_${String(i).padStart(4, '0')}`,
    details: { n: i, note: 'ü — ✓' },
    ...overrides,
  };
}

export async function appendMany(services: AuditServices, db: Kysely<Database>, count: number, make: (i: number) => AuditEvent = sampleEvent): Promise<void> {
  for (let i = 0; i < count; i += 1) await services.log.appendInOwnTransaction(db, make(i));
}
