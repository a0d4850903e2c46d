import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseVerifierKey, verifyCheckpoint } from '../../packages/verify/src/checkpoint.js';
import { isVerifyError } from '../../packages/verify/src/errors.js';
import { verifyConsistency } from '../../packages/verify/src/merkle.js';
import type { AuditServices } from '../../src/app/audit-services.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { ORIGIN, appendMany, cipherFor, sampleEvent, servicesFor } from './audit-test-support.js';
import { createAuditServices } from '../../src/app/audit-services.js';
import { rawPublicKey, signNote, verifierKey } from '../../src/audit/checkpoint.js';

const OPENSSL = '/usr/bin/openssl';
const run = promisify(execFile);

/**
 * An independent reading of C2SP signed-note + tlog-checkpoint, written from the specs: split
 * the note at its last blank line, find our signature line, check the key ID by hashing
 * name || 0x0A || 0x01 || key, and have openssl check the Ed25519 signature over the text.
 */
async function opensslVerifiesNote(dir: string, note: string, name: string, publicKey: Buffer): Promise<boolean> {
  const cut = note.lastIndexOf('\n\n');
  const body = note.slice(0, cut + 1);
  const line = note.slice(cut + 2).split('\n').find((l) => l.startsWith(`\u2014 ${name} `));
  if (!line) return false;
  const blob = Buffer.from(line.slice(`\u2014 ${name} `.length), 'base64');
  const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x01]), publicKey])).digest().subarray(0, 4);
  if (!blob.subarray(0, 4).equals(keyId)) return false;
  // SPKI for Ed25519 (RFC 8410): a fixed 12-byte header, then the raw key.
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]);
  const pem = `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
  const files = { pub: path.join(dir, 'pub.pem'), body: path.join(dir, 'body'), sig: path.join(dir, 'sig') };
  writeFileSync(files.pub, pem);
  writeFileSync(files.body, body);
  writeFileSync(files.sig, blob.subarray(4));
  try {
    await run(OPENSSL, ['pkeyutl', '-verify', '-pubin', '-inkey', files.pub, '-rawin', '-in', files.body, '-sigfile', files.sig]);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 1) return false;
    throw err;
  }
}

describe.each(testDialects())('audit checkpoints on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  let services: AuditServices;
  let dir: string;

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    services = servicesFor(testDb, handle);
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-checkpoint-'));
  });
  afterAll(async () => {
    await testDb.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates one log key, stores its private key only sealed, and publishes the C2SP verifier key', async () => {
    const key = await services.keys.currentKey();
    // A second process racing for the first key gets the same one.
    const other = createAuditServices({ db: handle.db, dialect: handle.dialect, cipher: cipherFor(testDb, handle), origin: ORIGIN });
    expect((await other.keys.currentKey()).verifierKey).toBe(key.verifierKey);
    const rows = await handle.db.selectFrom('audit_log_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    const pkcs8 = key.privateKey.export({ type: 'pkcs8', format: 'der' });
    const seed = pkcs8.subarray(pkcs8.length - 32);
    expect(Buffer.from(rows[0]!.private_key_sealed).includes(seed)).toBe(false);
    expect(Buffer.from(rows[0]!.public_key)).toEqual(key.publicKey);

    // Only the first two '+' separate fields: the base64 key may hold more.
    const [name, hexId, ...rest] = key.verifierKey.split('+');
    const b64 = rest.join('+');
    expect(name).toBe(ORIGIN);
    expect(hexId).toBe(createHash('sha256').update(Buffer.concat([Buffer.from(`${ORIGIN}\n\x01`, 'latin1'), key.publicKey])).digest().subarray(0, 4).toString('hex'));
    expect(Buffer.from(b64, 'base64')).toEqual(Buffer.concat([Buffer.from([1]), key.publicKey]));
    expect(createPublicKey(key.privateKey).export({ format: 'jwk' }).x).toBe(key.publicKey.toString('base64url'));
  });

  it('signs a C2SP checkpoint that the verifier package and openssl both accept', async () => {
    await appendMany(services, handle.db, 5);
    const checkpoint = await services.checkpoints.current();
    const key = await services.keys.currentKey();
    const [body, signature] = checkpoint.note.split('\n\n');
    expect(body).toBe(`${ORIGIN}\n5\n${(await services.tree.root(5)).toString('base64')}\nsealpost-seq 0 0`);
    expect(signature?.startsWith(`\u2014 ${ORIGIN} `)).toBe(true);
    // base64 of 4-byte key ID + 64-byte signature: 92 characters, one of them padding.
    expect(signature?.slice(`\u2014 ${ORIGIN} `.length)).toMatch(/^[A-Za-z0-9+/]{91}=\n$/);

    expect(verifyCheckpoint(checkpoint.note, key.verifierKey, { origin: ORIGIN })).toEqual({
      origin: ORIGIN,
      treeSize: 5,
      rootHash: await services.tree.root(5),
      sequence: { seq: 0, previousSize: 0 },
    });
    if (existsSync(OPENSSL)) {
      expect(await opensslVerifiesNote(dir, checkpoint.note, ORIGIN, key.publicKey)).toBe(true);
      const tampered = checkpoint.note.replace(`\n5\n`, '\n6\n');
      expect(await opensslVerifiesNote(dir, tampered, ORIGIN, key.publicKey)).toBe(false);
    }
  });

  it('refuses tampered notes and foreign keys with typed errors', async () => {
    const checkpoint = await services.checkpoints.current();
    const key = parseVerifierKey((await services.keys.currentKey()).verifierKey);
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
        return undefined;
      } catch (err) {
        return isVerifyError(err) ? err.code : 'untyped';
      }
    };
    const lines = checkpoint.note.split('\n');
    const otherRoot = Buffer.alloc(32, 7).toString('base64');
    expect(codeOf(() => verifyCheckpoint([lines[0], lines[1], otherRoot, ...lines.slice(3)].join('\n'), key))).toBe('SP_VERIFY_BAD_SIGNATURE');
    expect(codeOf(() => verifyCheckpoint(checkpoint.note.replace(ORIGIN, 'evil.example/audit'), key))).toBe('SP_VERIFY_BAD_SIGNATURE');
    expect(codeOf(() => verifyCheckpoint(checkpoint.note, key, { origin: 'other.example/log' }))).toBe('SP_VERIFY_MALFORMED_INPUT');
    // Another key of the same name is "unknown", and its signature lines are ignored.
    const stranger = generateKeyPairSync('ed25519');
    const strangerKey = { name: ORIGIN, publicKey: rawPublicKey(stranger.publicKey) };
    expect(codeOf(() => verifyCheckpoint(checkpoint.note, verifierKey(strangerKey)))).toBe('SP_VERIFY_UNKNOWN_KEY');
    const cosigned = signNote(checkpoint.note.slice(0, checkpoint.note.lastIndexOf('\n\n') + 1), strangerKey, stranger.privateKey);
    const both = `${checkpoint.note}${cosigned.slice(cosigned.lastIndexOf('\n\n') + 2)}`;
    expect(verifyCheckpoint(both, key).treeSize).toBe(checkpoint.treeSize);
    // A verifier key whose ID does not match its key is refused outright.
    const wrongId = verifierKey(strangerKey).replace(/\+[0-9a-f]{8}\+/, `+${key.keyId.toString('hex')}+`);
    expect(codeOf(() => parseVerifierKey(wrongId))).toBe('SP_VERIFY_MALFORMED_INPUT');
    expect(codeOf(() => verifyCheckpoint('not a note', key))).toBe('SP_VERIFY_MALFORMED_INPUT');
  });

  it('numbers every checkpoint in its signed note, once per number even when processes race', async () => {
    const before = await services.checkpoints.current();
    const key = (await services.keys.currentKey()).verifierKey;
    const others = [0, 1, 2].map(() => createAuditServices({ db: handle.db, dialect: handle.dialect, cipher: cipherFor(testDb, handle), origin: ORIGIN }));
    for (let round = 0; round < 3; round += 1) {
      await appendMany(services, handle.db, 2, (i) => sampleEvent(100 + round * 2 + i));
      await Promise.all(others.map((o) => o.checkpoints.current()));
    }
    const stored = await handle.db.selectFrom('audit_checkpoints').select(['tree_size', 'note', 'seq']).orderBy('tree_size').execute();
    stored.forEach((row, position) => {
      const opened = verifyCheckpoint(row.note, key);
      expect(opened.sequence).toEqual({ seq: position, previousSize: position === 0 ? 0 : stored[position - 1]!.tree_size });
      expect(row.seq).toBe(position);
    });
    expect(stored[stored.length - 1]!.tree_size).toBe(before.treeSize + 6);
  });

  it('refuses a signed note whose sequence line is malformed', async () => {
    const signing = await services.keys.currentKey();
    const body = `${ORIGIN}\n3\n${Buffer.alloc(32, 1).toString('base64')}\nsealpost-seq 1 4\n`;
    expect(() => verifyCheckpoint(signNote(body, signing, signing.privateKey), signing.verifierKey)).toThrow(/sequence line/);
  });

  it('proves each checkpoint consistent with the next', async () => {
    const first = await services.checkpoints.current();
    await appendMany(services, handle.db, 7, (i) => sampleEvent(100 + i));
    const second = await services.checkpoints.current();
    expect(second.treeSize).toBe(first.treeSize + 7);
    const proof = await services.audit.consistencyProof(first.treeSize, second.treeSize);
    expect(verifyConsistency(first.treeSize, second.treeSize, proof, first.rootHash, second.rootHash)).toBe(true);
  });

  it('the checkpointer signs when the tree grew, and only then', async () => {
    const before = await services.checkpoints.current();
    const checkpointer = services.checkpoints.startCheckpointer({ intervalMs: 5 });
    try {
      await appendMany(services, handle.db, 3, (i) => sampleEvent(200 + i));
      const latestSize = async () => (await handle.db.selectFrom('audit_checkpoints').select('tree_size').orderBy('tree_size', 'desc').executeTakeFirstOrThrow()).tree_size;
      for (let i = 0; i < 1000 && (await latestSize()) < before.treeSize + 3; i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(await latestSize()).toBe(before.treeSize + 3);
    } finally {
      await checkpointer.stop();
    }
    expect(await services.checkpoints.checkpointIfGrown()).toBeUndefined();
  });

  it('the checkpointer reads new events into the tree between signings, and signs only at its interval', async () => {
    const before = await services.checkpoints.current();
    const checkpointer = services.checkpoints.startCheckpointer({ intervalMs: 60_000 });
    try {
      await appendMany(services, handle.db, 4, (i) => sampleEvent(300 + i));
      // Read within about a second, long before the minute is up: no backlog piles up for the signing.
      for (let i = 0; i < 1000 && services.tree.size < before.treeSize + 4; i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(services.tree.size).toBe(before.treeSize + 4);
      expect((await services.checkpoints.current()).treeSize).toBe(before.treeSize + 4);
      expect(checkpointer.health().ok).toBe(true);
    } finally {
      await checkpointer.stop();
    }
  });
});
