import { mkdtempSync, rmSync, statSync, chmodSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataKeyRepository } from '../../src/crypto/data-key.repository.js';
import { LocalKeyring } from '../../src/crypto/local-keyring.js';
import { RecordCipher, type RecordContext } from '../../src/crypto/record-cipher.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';

const ctx: RecordContext = { tenant: 'ten_A', table: 'payloads', id: 'msg_1', field: 'body' };

describe.each(testDialects())('envelope encryption on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  let keyringDir: string;

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    keyringDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-'));
  });
  afterAll(async () => {
    await testDb.dispose();
    rmSync(keyringDir, { recursive: true, force: true });
  });

  function cipher(dir = keyringDir, limits = { maxUses: 1_000, maxAgeMs: 3_600_000 }): { keyring: LocalKeyring; cipher: RecordCipher } {
    const keyring = new LocalKeyring(dir, 365);
    keyring.open();
    return { keyring, cipher: new RecordCipher(keyring, new DataKeyRepository(handle.db), limits) };
  }

  it('round-trips a record and never stores plaintext in the ciphertext', async () => {
    const { cipher: c } = cipher();
    const secret = 'invoice 4711 for ACME: 12,000 EUR';
    const sealed = await c.encrypt(secret, ctx);
    expect(sealed.includes(Buffer.from(secret))).toBe(false);
    expect((await c.decrypt(sealed, ctx)).toString()).toBe(secret);
    expect(await c.decryptJson(await c.encryptJson({ a: [1, 'ü'] }, ctx), ctx)).toEqual({ a: [1, 'ü'] });
  });

  it('persists the wrapped data key before its first use', async () => {
    const { cipher: c } = cipher();
    const sealed = await c.encrypt('x', ctx);
    const keyId = sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('ascii');
    const row = await new DataKeyRepository(handle.db).find(keyId);
    expect(row?.provider).toBe('local');
    expect(row?.wrapped.length).toBe(12 + 32 + 16);
    // A fresh process (new cipher, empty cache) decrypts it from the stored wrapped key alone.
    expect((await cipher().cipher.decrypt(sealed, ctx)).toString()).toBe('x');
  });

  it.each([
    ['tenant', { ...ctx, tenant: 'ten_B' }],
    ['table', { ...ctx, table: 'receipts' }],
    ['record id', { ...ctx, id: 'msg_2' }],
    ['field', { ...ctx, field: 'headers' }],
  ])('refuses a ciphertext moved to another %s', async (_what, other) => {
    const { cipher: c } = cipher();
    const sealed = await c.encrypt('bound to its row', ctx);
    await expect(c.decrypt(sealed, other)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
  });

  it('detects a flipped bit anywhere in the ciphertext', async () => {
    const { cipher: c } = cipher();
    const sealed = await c.encrypt('tamper me', ctx);
    for (let i = 0; i < sealed.length; i++) {
      const copy = Buffer.from(sealed);
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      await expect(c.decrypt(copy, ctx)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
    }
    await expect(c.decrypt(sealed.subarray(0, 20), ctx)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
  });

  it('refuses a header whose key id is not a valid id, without asking the database', async () => {
    // CI once drew a nonce that made a bit-flipped length byte spill binary bytes into the key id,
    // which PostgreSQL rejected as invalid UTF-8 instead of the ciphertext being reported as damaged.
    const { cipher: c } = cipher();
    const sealed = await c.encrypt('tamper me', ctx);
    for (const junk of [Buffer.from([0x00, 0xff, 0xc3]), Buffer.from('dek_../../etc')]) {
      const forged = Buffer.concat([Buffer.from([sealed[0] ?? 0, junk.length]), junk, sealed.subarray(2 + (sealed[1] ?? 0))]);
      await expect(c.decrypt(forged, ctx)).rejects.toMatchObject({ code: 'SP_ERR_CRYPTO_DECRYPT_FAILED' });
    }
  });

  it('replaces the data key after its use limit', async () => {
    const { cipher: c } = cipher(keyringDir, { maxUses: 3, maxAgeMs: 3_600_000 });
    const ids = new Set<string>();
    for (let i = 0; i < 7; i++) {
      const sealed = await c.encrypt(`r${i}`, ctx);
      ids.add(sealed.subarray(2, 2 + (sealed[1] ?? 0)).toString('ascii'));
    }
    expect(ids.size).toBe(3);
  });

  it('keeps old records readable after a master key rotation and wraps new keys under the new version', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-'));
    try {
      const first = cipher(dir);
      const old = await first.cipher.encrypt('written under v1', ctx);
      expect(first.keyring.rotate()).toBe(2);
      first.cipher.retireCurrentKey();
      const fresh = await first.cipher.encrypt('written under v2', ctx);

      const restarted = cipher(dir); // a new process: nothing cached
      expect((await restarted.cipher.decrypt(old, ctx)).toString()).toBe('written under v1');
      expect((await restarted.cipher.decrypt(fresh, ctx)).toString()).toBe('written under v2');
      const byKek = await new DataKeyRepository(handle.db).countByKek();
      expect(byKek.map((r) => r.kekRef)).toEqual(expect.arrayContaining(['local:v1', 'local:v2']));
      expect(readdirSync(dir).sort()).toEqual(['kek-v000001.json', 'kek-v000002.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('local keyring', () => {
  it('creates its first master key with mode 0600 in a 0700 directory', () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-')), 'keyring');
    try {
      expect(new LocalKeyring(dir, 365).open().created).toBe(1);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(dir, 'kek-v000001.json')).mode & 0o777).toBe(0o600);
      expect(new LocalKeyring(dir, 365).open().created).toBeUndefined();
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it('adds a new version once the newest is older than the rotation period', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-'));
    try {
      const start = Date.parse('2026-01-01T00:00:00Z');
      new LocalKeyring(dir, 365, () => start).open();
      expect(new LocalKeyring(dir, 365, () => start + 364 * 86_400_000).open().created).toBeUndefined();
      expect(new LocalKeyring(dir, 365, () => start + 365 * 86_400_000).open().created).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a master key file readable by other users', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-keyring-'));
    try {
      new LocalKeyring(dir, 365).open();
      chmodSync(path.join(dir, 'kek-v000001.json'), 0o644);
      expect(() => new LocalKeyring(dir, 365).open()).toThrow(/chmod 600/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
