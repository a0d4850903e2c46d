import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ulid } from 'ulid';
import { canonicalJson } from '../../src/crypto/canonical-json.js';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher } from '../../src/crypto/record-cipher.js';
import type { DatabaseHandle, Dialect } from '../../src/db/database.js';
import { createReceiptServices, type ReceiptServices } from '../../src/app/receipt-services.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

export const DAY_MS = 86_400_000;
export const OPENSSL = '/usr/bin/openssl';
export const hasOpenssl = existsSync(OPENSSL);

/** A clock tests move by hand. */
export interface Clock {
  (): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function manualClock(start = Date.UTC(2026, 10, 24, 21, 7, 28, 123)): Clock {
  let t = start;
  return Object.assign(() => t, {
    set: (ms: number) => void (t = ms),
    advance: (ms: number) => void (t += ms),
  });
}

/** A migrated database with a keyring in its data dir, where `sealpost` run with {@link cliEnvOf} finds it. */
export interface ReceiptsFixture {
  readonly testDb: TestDatabase;
  readonly handle: DatabaseHandle;
  readonly dataDir: string;
  cipherFor(handle: DatabaseHandle): RecordCipher;
  /** Services over `handle` (default: the fixture's), as one process would have them. */
  services(options?: { now?: () => number; handle?: DatabaseHandle }): ReceiptServices;
  tenant(): Promise<string>;
  /** A stored payload row with the sealed canonical envelope, as ingest writes it. */
  payload(tenantId: string, data?: Record<string, unknown>): Promise<{ id: string; body: Buffer; bodySha256: string }>;
  dispose(): Promise<void>;
}

export async function openReceiptsFixture(dialect: Dialect): Promise<ReceiptsFixture> {
  const testDb = await createTestDatabase(dialect);
  const handle = await testDb.openMigrated();
  const dataDir = path.join(testDb.dir, 'data');
  const keyring = new LocalKeyring(path.join(dataDir, 'keyring'), 365);
  keyring.open();
  const cipherFor = (h: DatabaseHandle): RecordCipher => new RecordCipher(keyring, new DataKeyRepository(h.db));
  const cipher = cipherFor(handle);

  return {
    testDb,
    handle,
    dataDir,
    cipherFor,
    services(options = {}) {
      const h = options.handle ?? handle;
      return createReceiptServices({ db: h.db, cipher: h === handle ? cipher : cipherFor(h), ...(options.now ? { now: options.now } : {}) });
    },
    async tenant() {
      const id = `ten_${ulid()}`;
      await handle.db.insertInto('tenants').values({ id, name: 'Receipts tenant', plan: 'starter', created_at: Date.now() }).execute();
      return id;
    },
    async payload(tenantId, data = { order: 4711, note: 'Grüße 😀' }) {
      const id = `msg_${ulid()}`;
      const envelope = { id, type: 'payload.received', tenant: tenantId, received_at: new Date().toISOString(), source: { channel: 'https', api_key: 'key_test' }, data, attachments: [] };
      const body = canonicalJson(envelope);
      const bodySha256 = createHash('sha256').update(body).digest('hex');
      await handle.db
        .insertInto('payloads')
        .values({
          id,
          tenant_id: tenantId,
          type: 'payload.received',
          channel: 'https',
          envelope_sealed: await cipher.encrypt(body, { tenant: tenantId, table: 'payloads', id, field: 'envelope' }),
          body_sha256: bodySha256,
          size: body.length,
          received_at: Date.now(),
        })
        .execute();
      return { id, body, bodySha256 };
    },
    dispose: () => testDb.dispose(),
  };
}

/** Environment for `sealpost` runs against a fixture's database and keyring. */
export function cliEnvOf(fixture: Pick<ReceiptsFixture, 'testDb' | 'dataDir'>): Record<string, string> {
  const { config } = fixture.testDb;
  return {
    SEALPOST_DATA_DIR: fixture.dataDir,
    SEALPOST_DATABASE_URL: config.dialect === 'postgres' ? config.url : `sqlite:${config.file}`,
    SEALPOST_LOG_LEVEL: 'warn',
  };
}

const run = promisify(execFile);

/** Runs openssl's Ed25519 verification over files in `dir`; false when openssl says the signature is bad. */
export async function opensslVerifies(dir: string, pubPem: string, signedBytes: Buffer, signature: Buffer): Promise<boolean> {
  const files = { pub: path.join(dir, 'pub.pem'), data: path.join(dir, 'signed-bytes'), sig: path.join(dir, 'sig.bin') };
  writeFileSync(files.pub, pubPem);
  writeFileSync(files.data, signedBytes);
  writeFileSync(files.sig, signature);
  try {
    await run(OPENSSL, ['pkeyutl', '-verify', '-pubin', '-inkey', files.pub, '-rawin', '-in', files.data, '-sigfile', files.sig]);
    return true;
  } catch (err) {
    // openssl exits 1 on a failed verification; anything else is a broken setup.
    if ((err as { code?: unknown }).code === 1) return false;
    throw err;
  }
}

/** The PEM public key a customer builds from a JWK `x` (README "Verifying receipts"). */
export function pemFromJwkX(x: string): string {
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(x, 'base64url')]);
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
}
