import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { readEvidenceArchive, verifyEvidenceBundle, type EvidenceManifest } from '@sealpost/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService, openBackupTargets } from '../../src/app/backup-services.js';
import type { AuditActor } from '../../src/audit/audit-event.js';
import { tarBuffer, tarEnd } from '../../src/ops/lifecycle/tar-stream.js';
import { runCli } from '../support/cli.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';
import { writeTrustConfig } from './trust-test-support.js';

const ACTOR: AuditActor = { type: 'system', id: 'test' };
const SMTP_PASSWORD = 'smtp-Pa55word-never-in-evidence';
const DAY = 86_400_000;

function archiveOf(files: Record<string, Uint8Array>): Buffer {
  const chunks: Buffer[] = [];
  for (const [name, body] of Object.entries(files)) chunks.push(...tarBuffer(name, Buffer.from(body), Date.now()));
  return Buffer.concat([...chunks, tarEnd()]);
}

describe.each(testDialects())('the compliance evidence bundle on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let dir: string;
  let verifierKey: string;
  let files: Record<string, Uint8Array>;
  let manifest: EvidenceManifest;
  let tenant: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sp-evidence-'));
    app = await startTestApp(dialect, {
      env: {
        SEALPOST_TRUST_CONFIG: writeTrustConfig(dir),
        SEALPOST_BACKUP_TARGET: path.join(dir, 'backup-a'),
        SEALPOST_BACKUP_REPLICA: path.join(dir, 'backup-b'),
        SEALPOST_OUTBOUND_SMTP_URL: `smtps://relay:${SMTP_PASSWORD}@mail.example.com:465`,
      },
    });
    tenant = (await app.createTenant()).tenant;
    await app.context.receipts.keys.rotate(tenant, { actor: ACTOR });
    await app.context.trust.securityKeys.create({ name: 'Sec', email: 'security@example.com', replace: false, actor: ACTOR });
    const targets = await openBackupTargets(app.context.config);
    try {
      await createBackupService(app.context, targets).create(ACTOR);
    } finally {
      await targets.target.close();
      await targets.replica.close();
    }
    const { db } = app.context.database;
    const now = Date.now();
    await db.insertInto('staff_members').values([
      { id: 'stf_01JDG3ZK8Q4W7N2M5R9T6V3X1A', email: 'alice@ops.example.com', idp_subject: null, enrolment_code_sha256: null, enrolment_expires_at: null, created_at: now, disabled_at: null },
      { id: 'stf_01JDG3ZK8Q4W7N2M5R9T6V3X1B', email: 'bob@ops.example.com', idp_subject: null, enrolment_code_sha256: null, enrolment_expires_at: null, created_at: now, disabled_at: null },
    ]).execute();
    await db.insertInto('staff_grants').values({
      id: 'grt_01JDG3ZK8Q4W7N2M5R9T6V3X1C', tenant_id: tenant, requester_id: 'stf_01JDG3ZK8Q4W7N2M5R9T6V3X1A', approver_id: 'stf_01JDG3ZK8Q4W7N2M5R9T6V3X1B',
      scope: 'read', reason: 'ticket 4711', duration_ms: 3_600_000, state: 'approved', break_glass: 0, requested_at: now, decided_at: now, expires_at: now + 3_600_000, revoked_at: null, revoked_by: null, expiry_recorded_at: null,
    }).execute();
    await app.context.audit.checkpoints.current();
    verifierKey = (await (await app.fetch('/.well-known/sealpost-log-key')).text()).trim();

    const bundle = await app.context.trust.evidence.build({ from: now - DAY, to: now + DAY }, ACTOR);
    files = readEvidenceArchive(bundle.archive);
    manifest = bundle.manifest;
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = (name: string): Record<string, unknown> => JSON.parse(Buffer.from(files[name]!).toString('utf8')) as Record<string, unknown>;

  it('verifies offline against the pinned audit log key, and is a tar that tar reads', async () => {
    expect(verifyEvidenceBundle(files, verifierKey)).toEqual(manifest);
    expect(Object.keys(files).sort()).toEqual(['audit-checkpoints.json', 'backups.json', 'configuration.json', 'key-rotations.json', 'manifest.json', 'manifest.sig', 'staff-access.json']);
    const archive = path.join(dir, 'listed.tar');
    writeFileSync(archive, (await app.context.trust.evidence.build({ from: Date.now() - DAY, to: Date.now() + DAY }, ACTOR)).archive);
    const { stdout } = await promisify(execFile)('tar', ['-tf', archive]);
    expect(stdout.trim().split('\n')).toContain('manifest.json');
  });

  it('holds the key rotations, backups, staff grants, checkpoints and the configuration of the period', () => {
    const keys = read('key-rotations.json') as { audit_events: { event: { action: string } }[]; signing_keys: { tenant: string }[]; security_keys: unknown[]; master_key_versions: unknown[] };
    expect(keys.audit_events.map((e) => e.event.action)).toEqual(expect.arrayContaining(['signing_key.rotated', 'security_key.created']));
    expect(keys.signing_keys.some((k) => k.tenant === tenant)).toBe(true);
    expect(keys.security_keys).toHaveLength(1);
    expect(keys.master_key_versions).toHaveLength(1);
    expect((read('backups.json') as { snapshots: unknown[] }).snapshots).toHaveLength(1);
    expect((read('staff-access.json') as { grants: unknown[] }).grants).toEqual([expect.objectContaining({ requester: 'alice@ops.example.com', approver: 'bob@ops.example.com', reason: 'ticket 4711', state: 'approved' })]);
    const audit = read('audit-checkpoints.json') as { verifier_key: string; checkpoints: { note: string }[] };
    expect(audit.verifier_key).toBe(verifierKey);
    expect(audit.checkpoints.length).toBeGreaterThan(0);
    const config = read('configuration.json') as { settings: Record<string, unknown>; trust: { organization: string } };
    expect(config.settings.SEALPOST_OUTBOUND_SMTP_URL).toBe('[redacted]');
    expect(config.settings.SEALPOST_INBOUND_DOMAIN).toBe('localhost');
    expect(config.trust.organization).toBe('Example Relay Ltd');
  });

  it('never carries a secret setting or a private key', () => {
    const all = Object.values(files).map((b) => Buffer.from(b).toString('utf8')).join('\n');
    expect(all).not.toContain(SMTP_PASSWORD);
    expect(all).not.toContain('PRIVATE KEY');
  });

  it('fails verification when a file inside is changed, removed or added, or the manifest is edited', () => {
    const changed = { ...files, 'backups.json': Buffer.from(Buffer.from(files['backups.json']!).toString('utf8').replace('"snapshots"', '"Snapshots"')) };
    expect(() => verifyEvidenceBundle(readEvidenceArchive(archiveOf(changed)), verifierKey)).toThrow(expect.objectContaining({ code: 'SP_VERIFY_BAD_SIGNATURE' }));
    const { ['staff-access.json']: _removed, ...missing } = files;
    expect(() => verifyEvidenceBundle(missing, verifierKey)).toThrow(expect.objectContaining({ code: 'SP_VERIFY_BAD_SIGNATURE' }));
    expect(() => verifyEvidenceBundle({ ...files, 'extra.json': Buffer.from('{}') }, verifierKey)).toThrow(expect.objectContaining({ code: 'SP_VERIFY_BAD_SIGNATURE' }));
    const edited = Buffer.from(Buffer.from(files['manifest.json']!).toString('utf8').replace(manifest.from, '2000-01-01T00:00:00.000Z'));
    expect(() => verifyEvidenceBundle({ ...files, 'manifest.json': edited }, verifierKey)).toThrow(expect.objectContaining({ code: 'SP_VERIFY_BAD_SIGNATURE' }));
  });

  it('does not verify against another log key', async () => {
    const other = await startTestApp('sqlite');
    try {
      const otherKey = (await (await other.fetch('/.well-known/sealpost-log-key')).text()).trim();
      expect(otherKey).not.toBe(verifierKey);
      expect(() => verifyEvidenceBundle(files, otherKey)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^SP_VERIFY_(BAD_SIGNATURE|MALFORMED_INPUT)$/) }));
    } finally {
      await other.close();
    }
  });

  it('leaves out what happened outside the period', async () => {
    const future = await app.context.trust.evidence.build({ from: Date.now() + 10 * DAY, to: Date.now() + 20 * DAY }, ACTOR);
    const out = readEvidenceArchive(future.archive);
    expect(verifyEvidenceBundle(out, verifierKey).from).toBe(future.manifest.from);
    const body = (name: string): Record<string, unknown[]> => JSON.parse(Buffer.from(out[name]!).toString('utf8')) as Record<string, unknown[]>;
    expect(body('backups.json').snapshots).toEqual([]);
    expect(body('staff-access.json').grants).toEqual([]);
    expect(body('key-rotations.json').audit_events).toEqual([]);
  });

  it('refuses a bad period at the command line and never overwrites a file', async () => {
    const env = { SEALPOST_DATA_DIR: path.join(app.testDb.dir, 'data'), SEALPOST_DATABASE_URL: app.testDb.config.dialect === 'postgres' ? app.testDb.config.url : `sqlite:${app.testDb.config.file}` };
    const out = path.join(dir, 'evidence.tar');
    const backwards = await runCli(['compliance', 'evidence', '--from', '2026-03-01', '--to', '2026-01-01', '--out', out], env);
    expect(backwards.code).not.toBe(0);
    expect(backwards.stderr).toContain('SP_ERR_TRUST_EVIDENCE_INVALID');
    const notADate = await runCli(['compliance', 'evidence', '--from', 'yesterday', '--to', '2026-01-01', '--out', out], env);
    expect(notADate.stderr).toContain('--from "yesterday": expected a date');
    const ok = await runCli(['compliance', 'evidence', '--from', '2025-01-01', '--to', '2030-12-31', '--out', out, '--json'], env);
    expect(ok.code, ok.stderr).toBe(0);
    const written = readFileSync(out);
    expect(verifyEvidenceBundle(readEvidenceArchive(written), verifierKey).id).toBe((JSON.parse(ok.stdout) as { id: string }).id);
    const again = await runCli(['compliance', 'evidence', '--from', '2025-01-01', '--to', '2030-12-31', '--out', out], env);
    expect(again.code).not.toBe(0);
    expect(readFileSync(out).equals(written)).toBe(true);
  });
});
