import { readFileSync } from 'node:fs';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditActor } from '../../src/audit/audit-event.js';
import { SECURITY_KEY_PATH } from '../../src/trust/security-key.routes.js';
import type { SecurityKeyService } from '../../src/trust/security-key.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';
import { writeTestPrivateKey } from './trust-test-support.js';

const ACTOR: AuditActor = { type: 'system', id: 'test' };
const PASSPHRASE = 'correct horse battery staple';

describe.each(testDialects())('the deployment security key on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let keys: SecurityKeyService;

  beforeAll(async () => {
    app = await startTestApp(dialect);
    keys = app.context.trust.securityKeys;
  });
  afterAll(async () => {
    await app?.close();
  });

  async function storedRows(): Promise<{ id: string; private_key_sealed: Buffer; is_current: number | null; replaced_at: number | null }[]> {
    return app.context.database.db.selectFrom('security_keys').select(['id', 'private_key_sealed', 'is_current', 'replaced_at']).orderBy('created_at').execute();
  }

  it('serves no key and signs nothing before one exists', async () => {
    const res = await app.fetch(SECURITY_KEY_PATH);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_TRUST_KEY_MISSING');
    expect(await keys.clearSign('x')).toBeUndefined();
  });

  it('creates an Ed25519 key, keeps its private half only sealed, and serves the public half', async () => {
    const key = await keys.create({ name: 'Example security team', email: 'security@example.com', replace: false, actor: ACTOR });
    expect(key.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(key.algorithm).toBe('eddsaLegacy/ed25519Legacy');
    expect(key.userId).toBe('Example security team <security@example.com>');

    const [row] = await storedRows();
    const sealed = Buffer.from(row!.private_key_sealed);
    expect(sealed.toString('latin1')).not.toContain('PRIVATE KEY');
    const loaded = await keys.load();
    expect(loaded?.privateKey.isDecrypted()).toBe(true);
    // The raw secret scalar does not appear in what the database holds.
    const secret = Buffer.from((loaded!.privateKey.keyPacket as unknown as { privateParams: { seed: Uint8Array } }).privateParams.seed);
    expect(sealed.includes(secret)).toBe(false);

    const res = await app.fetch(SECURITY_KEY_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pgp-keys');
    const armored = await res.text();
    expect(armored).not.toContain('PRIVATE');
    const served = await openpgp.readKey({ armoredKey: armored });
    expect(served.isPrivate()).toBe(false);
    expect(served.getFingerprint().toUpperCase()).toBe(key.fingerprint);
  });

  it('refuses a second key unless asked to replace, and keeps the replaced one on record', async () => {
    await expect(keys.create({ name: 'x', email: 'x@example.com', replace: false, actor: ACTOR })).rejects.toMatchObject({ code: 'SP_ERR_TRUST_KEY_EXISTS' });
    const first = await keys.require();
    const second = await keys.create({ name: 'y', email: 'y@example.com', replace: true, actor: ACTOR });
    expect(second.fingerprint).not.toBe(first.fingerprint);
    const rows = await storedRows();
    expect(rows.map((r) => [r.id, r.is_current, r.replaced_at === null])).toEqual([
      [first.id, null, false],
      [second.id, 1, true],
    ]);
  });

  it('imports a passphrase-protected key only with its passphrase', async () => {
    const { file, fingerprint } = await writeTestPrivateKey(app.testDb.dir, { passphrase: PASSPHRASE, file: 'protected.asc' });
    const armored = readFileSync(file, 'utf8');
    await expect(keys.import({ armored, replace: true, actor: ACTOR })).rejects.toMatchObject({ code: 'SP_ERR_TRUST_KEY_INVALID', message: expect.stringMatching(/passphrase/) });
    await expect(keys.import({ armored, passphrase: 'wrong', replace: true, actor: ACTOR })).rejects.toMatchObject({ code: 'SP_ERR_TRUST_KEY_INVALID' });
    const imported = await keys.import({ armored, passphrase: PASSPHRASE, replace: true, actor: ACTOR });
    expect(imported).toMatchObject({ fingerprint, source: 'imported', userId: 'Imported Security Team <security@imported.example>' });
    // Stored unprotected (sealed instead), so the server can sign without the passphrase.
    expect((await keys.load())?.privateKey.isDecrypted()).toBe(true);
    await expect(keys.import({ armored, passphrase: PASSPHRASE, replace: true, actor: ACTOR })).rejects.toMatchObject({ code: 'SP_ERR_TRUST_KEY_EXISTS' });
  });

  it('refuses what is not one usable private key, and stores nothing', async () => {
    const before = (await storedRows()).length;
    const rsa = readFileSync((await writeTestPrivateKey(app.testDb.dir, { rsaBits: 2048, file: 'rsa.asc' })).file, 'utf8');
    const publicOnly = (await openpgp.readPrivateKey({ armoredKey: readFileSync((await writeTestPrivateKey(app.testDb.dir, { file: 'pub.asc' })).file, 'utf8') })).toPublic().armor();
    for (const armored of [rsa, publicOnly, 'not a key', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n', 'x'.repeat(70_000)]) {
      await expect(keys.import({ armored, replace: true, actor: ACTOR })).rejects.toMatchObject({ code: 'SP_ERR_TRUST_KEY_INVALID' });
    }
    expect((await storedRows()).length).toBe(before);
  });

  it('refuses to sign when the published public key was swapped in the database', async () => {
    const other = (await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'attacker@example.com' }], format: 'object' })).publicKey.armor();
    const current = await keys.require();
    await app.context.database.db.updateTable('security_keys').set({ public_key_armored: other }).where('id', '=', current.id).execute();
    try {
      await expect(keys.clearSign('Contact: mailto:security@example.com\n')).rejects.toThrow(/do not match/);
    } finally {
      await app.context.database.db.updateTable('security_keys').set({ public_key_armored: current.publicKeyArmored }).where('id', '=', current.id).execute();
    }
    expect((await keys.clearSign('ok\n'))?.signed).toContain('-----BEGIN PGP SIGNED MESSAGE-----');
  });
});
