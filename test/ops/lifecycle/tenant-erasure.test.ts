import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { FormData, type Response } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealpost, type Sealpost } from '../../../src/app/sealpost.js';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { verifyStoredAuditLog } from '../../../src/audit/audit-verify.js';
import { loadConfig } from '../../../src/config/config.load.js';
import { attachmentBlobContext } from '../../../src/ingest/multipart-upload.js';
import { SigningKeyRepository } from '../../../src/crypto/signing-key.repository.js';
import { createLogger } from '../../../src/logging/logger.js';
import { TenantErasureRepository } from '../../../src/ops/lifecycle/tenant-erasure.repository.js';
import { ERASURE_CONFIRM_WINDOW_MS, TenantErasureService } from '../../../src/ops/lifecycle/tenant-erasure.service.js';
import { runCli } from '../../support/cli.js';
import { asOperator, passwordLogin, signInAs, TestClock, tokenOfLink, type SignedInOperator } from '../../support/operators.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { testDialects } from '../../support/test-database.js';
import { takeSnapshot, type Snapshot } from './snapshot.js';

interface Stored {
  readonly tenant: string;
  readonly apiKey: string;
  readonly payloadId: string;
  readonly receiptId: string;
  readonly attachmentId: string;
  readonly attachment: Buffer;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe.each(testDialects())('erasure by crypto-shredding on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let a: Stored;
  let b: Stored;
  let snapshot: Snapshot;
  let owner: SignedInOperator;
  let pendingSetupLink: string;
  const clock = new TestClock(Date.now());
  const txt = new Map<string, string[][]>();
  const scratch: string[] = [];
  const ADMIN = { type: 'system', id: 'test' } as const;

  async function store(name: string): Promise<Stored> {
    const { tenant, apiKey } = await app.createTenant();
    const attachment = Buffer.from(`attachment of ${name}: ${'x'.repeat(70_000)}`);
    const form = new FormData();
    form.append('payload', JSON.stringify({ owner: name, secret: `payload secret of ${name}` }));
    form.append('file', new Blob([attachment], { type: 'text/plain' }), 'a.txt');
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body: form });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; receipt: { id: string } };
    const inbox = await app.fetch('/v1/inboxes', { method: 'POST', token: apiKey, headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(inbox.status).toBe(201);
    const read = (await (await app.fetch(`/v1/payloads/${body.id}`, { token: apiKey })).json()) as { envelope: { attachments: { id: string }[] } };
    return { tenant, apiKey, payloadId: body.id, receiptId: body.receipt.id, attachmentId: read.envelope.attachments[0]!.id, attachment };
  }

  /** A Sealpost started on a snapshot: its database and blobs, with the keyring as it is now (key material travels separately). */
  async function restore(from: Snapshot): Promise<Sealpost> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-restored-'));
    scratch.push(dataDir);
    cpSync(path.join(app.context.config.dataDir, 'keyring'), path.join(dataDir, 'keyring'), { recursive: true });
    cpSync(from.blobsDir, path.join(dataDir, 'blobs'), { recursive: true });
    const db = from.database.config;
    const config = loadConfig({
      SEALPOST_DATA_DIR: dataDir,
      SEALPOST_DATABASE_URL: db.dialect === 'postgres' ? db.url : `sqlite:${db.file}`,
      SEALPOST_LOG_LEVEL: 'silent',
    });
    return createSealpost(config, { logger: createLogger('silent'), publicUrl: 'https://localhost' });
  }

  async function readEverything(sealpost: Sealpost, stored: Stored): Promise<{ owner: string; attachment: Buffer; receipt: string }> {
    const payload = await sealpost.payloadRepository.find(stored.tenant, stored.payloadId);
    const attachment = await sealpost.payloadRepository.findAttachment(stored.tenant, stored.attachmentId);
    const blob = await readAll(await sealpost.blobs.getDecrypted(attachment!.blobKey, attachmentBlobContext(stored.tenant, stored.attachmentId), stored.tenant));
    const receipt = await sealpost.receipts.repository.find(stored.tenant, stored.receiptId);
    return { owner: (JSON.parse(payload!.canonicalEnvelope.toString('utf8')) as { data: { owner: string } }).data.owner, attachment: blob, receipt: receipt!.json };
  }

  beforeAll(async () => {
    app = await startTestApp(dialect, { overrides: { identityClock: clock.now, ssoTxtResolver: async (name) => txt.get(name) ?? [] } });
    a = await store('a');
    b = await store('b');
    // The people of tenant a: a signed-in owner, an invited colleague who has not set a password
    // yet, an OIDC setting and a verified SSO domain.
    owner = await signInAs(app, clock, a.tenant, 'owner');
    pendingSetupLink = (await app.context.identity.members.createOperator(a.tenant, 'invited@erased.example', 'viewer', ADMIN)).link!;
    const sso = app.context.sso.config;
    await sso.putOidc(a.tenant, { issuer: 'https://login.erased.example', clientId: 'sealpost', clientSecret: 'oidc-secret-of-a' }, ADMIN);
    const claim = await sso.addDomain(a.tenant, 'erased.example', ADMIN);
    txt.set('_sealpost-verify.erased.example', [[claim.verificationToken]]);
    await sso.verifyDomain(a.tenant, 'erased.example', ADMIN);
    // The backup taken before the erasure: database and blobs, no keys.
    snapshot = await takeSnapshot({ testDb: app.testDb, handle: app.context.database, dataDir: app.context.config.dataDir });
  });
  afterAll(async () => {
    await snapshot?.dispose();
    await app?.close();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  function erasureRequest(headers: Record<string, string>, body: object): Promise<Response> {
    return app.fetch('/v1/tenant/erasure', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }
  async function codeOf(res: Response): Promise<string> {
    return ((await res.json()) as { code: string }).code;
  }

  it("refuses an erasure to an API key and to an admin: it is the owner's decision", async () => {
    const byKey = await erasureRequest({ authorization: `Bearer ${a.apiKey}` }, {});
    expect(byKey.status).toBe(403);
    expect(await codeOf(byKey)).toBe('SP_ERR_AUTH_SESSION_REQUIRED');
    const admin = await signInAs(app, clock, a.tenant, 'admin');
    const byAdmin = await erasureRequest(asOperator(admin), {});
    expect(byAdmin.status).toBe(403);
    expect(await codeOf(byAdmin)).toBe('SP_ERR_AUTH_SCOPE_MISSING');
    expect((await app.context.database.db.selectFrom('tenants').select('erasure_token_sha256').where('id', '=', a.tenant).executeTakeFirstOrThrow()).erasure_token_sha256).toBeNull();
  });

  it('asks the owner for a second confirmation, bound to the same session and refused once wrong', async () => {
    const first = await erasureRequest(asOperator(owner), {});
    expect(first.status).toBe(202);
    const pending = (await first.json()) as { confirmation_token: string; expires_at: string; tenant: string };
    expect(pending.tenant).toBe(a.tenant);
    expect(pending.confirmation_token).toMatch(/^spe_[A-Za-z0-9_-]{43}$/);
    // Only the hash is stored.
    const row = await app.context.database.db.selectFrom('tenants').select(['erasure_token_sha256']).where('id', '=', a.tenant).executeTakeFirstOrThrow();
    expect(row.erasure_token_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(row.erasure_token_sha256).not.toContain(pending.confirmation_token);

    const wrong = await erasureRequest(asOperator(owner), { confirmation_token: `spe_${'A'.repeat(43)}` });
    expect(wrong.status).toBe(403);
    expect(await codeOf(wrong)).toBe('SP_ERR_TENANT_ERASURE_UNCONFIRMED');
    // Another owner of the same tenant, in a session of their own, cannot confirm what this session asked.
    const coOwner = await signInAs(app, clock, a.tenant, 'owner');
    const byCoOwner = await erasureRequest(asOperator(coOwner), { confirmation_token: pending.confirmation_token });
    expect(byCoOwner.status).toBe(403);
    expect(await codeOf(byCoOwner)).toBe('SP_ERR_TENANT_ERASURE_UNCONFIRMED');
    // Nor can the tenant's API key, which holds every scope.
    const byKey = await erasureRequest({ authorization: `Bearer ${a.apiKey}` }, { confirmation_token: pending.confirmation_token });
    expect(byKey.status).toBe(403);
    expect(await codeOf(byKey)).toBe('SP_ERR_AUTH_SESSION_REQUIRED');
    // Nor another tenant's owner (the token is looked up in its own tenant).
    const foreignOwner = await signInAs(app, clock, b.tenant, 'owner');
    const foreign = await erasureRequest(asOperator(foreignOwner), { confirmation_token: pending.confirmation_token });
    expect(foreign.status).toBe(403);
    expect(await codeOf(foreign)).toBe('SP_ERR_TENANT_ERASURE_UNCONFIRMED');
    const malformed = await erasureRequest(asOperator(owner), { confirmation_token: 'x', extra: 1 });
    expect(malformed.status).toBe(400);
    // Nothing was erased by any of these.
    expect((await readEverything(app.context, a)).owner).toBe('a');
    expect((await app.context.tenantRepository.lifecycle(a.tenant))?.erasedAt).toBeNull();
    expect((await app.context.tenantRepository.lifecycle(b.tenant))?.erasedAt).toBeNull();

    const confirmed = await erasureRequest(asOperator(owner), { confirmation_token: pending.confirmation_token });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toMatchObject({ status: 'erased', tenant: a.tenant });
  });

  it('refuses the erased tenant everywhere and keeps the other tenant working', async () => {
    for (const res of [
      await app.fetch(`/v1/payloads/${a.payloadId}`, { token: a.apiKey }),
      await app.fetch('/v1/payloads', { method: 'POST', token: a.apiKey, headers: { 'content-type': 'application/json' }, body: '{"more":1}' }),
    ]) {
      expect(res.status).toBe(410);
      expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_TENANT_ERASED');
    }
    await expect(readEverything(app.context, a)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    await expect(app.context.cipher.encrypt('new', { tenant: a.tenant, table: 'payloads', id: 'msg_x', field: 'envelope' })).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
    expect((await app.fetch(`/v1/payloads/${b.payloadId}`, { token: b.apiKey })).status).toBe(200);
    expect((await readEverything(app.context, b)).attachment.equals(b.attachment)).toBe(true);
    const keys = await app.context.database.db.selectFrom('api_keys').select('revoked_at').where('tenant_id', '=', a.tenant).execute();
    expect(keys.every((k) => k.revoked_at !== null)).toBe(true);
    // Its inboxes are deleted, so their addresses are unknown at RCPT TO; the other tenant's stay.
    const inboxes = await app.context.database.db.selectFrom('inboxes').select(['tenant_id', 'deleted_at']).where('tenant_id', 'in', [a.tenant, b.tenant]).execute();
    expect(inboxes.map((i) => [i.tenant_id, i.deleted_at !== null]).sort()).toEqual([[a.tenant, true], [b.tenant, false]].sort());
  });

  it("ends the erased tenant's people's access: sessions, memberships, one-time links, SSO settings and domains", async () => {
    const db = app.context.database.db;
    // The owner's session answers that the tenant is gone, on every route, whatever it was allowed before.
    for (const [method, url] of [['GET', '/v1/auth/session'], ['GET', '/v1/members'], ['POST', '/v1/auth/logout']] as const) {
      const res = await app.fetch(url, { method, headers: asOperator(owner) });
      expect(res.status, `${method} ${url}`).toBe(410);
      expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_TENANT_ERASED');
    }
    const sessions = await db.selectFrom('operator_sessions').select('revoked_at').where('tenant_id', '=', a.tenant).execute();
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.every((row) => row.revoked_at !== null)).toBe(true);
    expect(await db.selectFrom('tenant_members').select('operator_id').where('tenant_id', '=', a.tenant).execute()).toEqual([]);
    expect(await db.selectFrom('operator_tokens').select('id').where('tenant_id', '=', a.tenant).execute()).toEqual([]);
    expect(await db.selectFrom('sso_oidc_configs').select('tenant_id').where('tenant_id', '=', a.tenant).execute()).toEqual([]);
    expect(await db.selectFrom('sso_domains').select('domain').where('tenant_id', '=', a.tenant).execute()).toEqual([]);
    // Signing in again finds no membership: the same answer as a wrong password.
    const login = await passwordLogin(app, owner.email);
    expect(login.res.status).toBe(401);
    expect(login.body).toMatchObject({ code: 'SP_ERR_AUTH_LOGIN_FAILED' });
    // The invitation's link no longer sets a password.
    await expect(app.context.identity.members.setPassword('setup', tokenOfLink(pendingSetupLink), 'another correct horse battery')).rejects.toMatchObject({ code: 'SP_ERR_AUTH_LINK_INVALID' });
    // The verified domain is free again: another tenant claims and verifies it.
    const sso = app.context.sso.config;
    const claim = await sso.addDomain(b.tenant, 'erased.example', ADMIN);
    txt.set('_sealpost-verify.erased.example', [[claim.verificationToken]]);
    expect((await sso.verifyDomain(b.tenant, 'erased.example', ADMIN)).verifiedAt).not.toBeNull();
  });

  it('cannot decrypt anything of the erased tenant from a snapshot taken before the erasure; the other tenant restores intact', async () => {
    const restored = await restore(snapshot);
    try {
      // The snapshot still lists the tenant as live and holds its wrapped data keys: only the root key is gone.
      expect((await restored.tenantRepository.lifecycle(a.tenant))?.erasedAt).toBeNull();
      await expect(restored.payloadRepository.find(a.tenant, a.payloadId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      await expect(restored.payloadRepository.findAttachment(a.tenant, a.attachmentId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      const blobKey = (await restored.database.db.selectFrom('attachments').select('blob_key').where('id', '=', a.attachmentId).executeTakeFirstOrThrow()).blob_key;
      await expect(readAll(await restored.blobs.getDecrypted(blobKey, attachmentBlobContext(a.tenant, a.attachmentId), a.tenant))).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      await expect(restored.receipts.repository.find(a.tenant, a.receiptId)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });
      // Nor can the restored deployment make a new root key for it: a tombstone stands in its place.
      await expect(restored.cipher.encrypt('x', { tenant: a.tenant, table: 'payloads', id: 'msg_y', field: 'envelope' })).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASED' });

      const intact = await readEverything(restored, b);
      expect(intact.owner).toBe('b');
      expect(intact.attachment.equals(b.attachment)).toBe(true);
      expect(JSON.parse(intact.receipt)).toMatchObject({ kind: 'accepted', message_id: b.payloadId, tenant: b.tenant });
    } finally {
      await restored.close();
    }
  });

  it("keeps the audit log whole: the erasure is an event and the tenant's events still verify", async () => {
    await app.context.audit.checkpoints.checkpointIfGrown();
    const report = await verifyStoredAuditLog(app.context.database.db);
    expect(report.problems).toEqual([]);
    const rows = await app.context.database.db.selectFrom('audit_events').select(['event', 'log_index']).where('tenant_id', '=', a.tenant).orderBy('log_index').execute();
    const events = rows.map((r) => JSON.parse(r.event!) as AuditEvent);
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['tenant.created', 'receipt.issued', 'tenant.erasure_requested', 'tenant.erased']));
    expect(events.find((e) => e.action === 'tenant.erased')).toMatchObject({
      actor: { type: 'operator', id: owner.operatorId },
      // Sessions and members: the owner, the admin and the co-owner of the tests above, and the invited colleague.
      details: { trigger: 'api', method: 'crypto-shredding', revoked_api_keys: 1, revoked_sessions: 3, removed_members: 4, deleted_sso_domains: 1, ended_staff_grants: 0 },
    });
  });

  it('refuses a confirmation once its ten minutes are over', async () => {
    const c = await app.createTenant();
    let now = Date.now();
    const db = app.context.database.db;
    const erasure = new TenantErasureService(db, new TenantErasureRepository(db), app.context.tenantKeys, () => {}, app.context.effects.audit.erasure, () => now);
    const actor = { type: 'operator', id: 'opr_owner' } as const;
    const pending = await erasure.requestConfirmation(c.tenant, 'ses_asking', actor);
    now += ERASURE_CONFIRM_WINDOW_MS;
    await expect(erasure.confirm(c.tenant, 'ses_asking', pending.token, actor)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASURE_UNCONFIRMED' });
    // A token issued to one session is not confirmed by another session of the same tenant.
    now -= ERASURE_CONFIRM_WINDOW_MS;
    await expect(erasure.confirm(c.tenant, 'ses_another', pending.token, actor)).rejects.toMatchObject({ code: 'SP_ERR_TENANT_ERASURE_UNCONFIRMED' });
    expect((await app.context.tenantRepository.lifecycle(c.tenant))?.erasedAt).toBeNull();
    // The asking session, within the window, does erase.
    await expect(erasure.confirm(c.tenant, 'ses_asking', pending.token, actor)).resolves.toMatchObject({ tenant: c.tenant, alreadyErased: false });
  });

  it('leaves erased tenants out of the signing-key rotation, which could no longer seal their keys', async () => {
    const due = await new SigningKeyRepository(app.context.database.db).tenantsDueForRotation(Date.now() + 365 * 86_400_000);
    expect(due).toContain(b.tenant);
    expect(due).not.toContain(a.tenant);
  });

  it('erases from the command line only when the tenant is named twice', async () => {
    const c = await app.createTenant();
    const env = {
      SEALPOST_DATA_DIR: app.context.config.dataDir,
      SEALPOST_DATABASE_URL: app.testDb.config.dialect === 'postgres' ? app.testDb.config.url : `sqlite:${app.testDb.config.file}`,
      SEALPOST_LOG_LEVEL: 'warn',
    };
    const unconfirmed = await runCli(['tenants', 'erase', c.tenant], env);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('SP_ERR_TENANT_ERASURE_UNCONFIRMED');
    const mismatched = await runCli(['tenants', 'erase', c.tenant, '--yes-erase', a.tenant], env);
    expect(mismatched.code).toBe(1);
    expect((await app.context.tenantRepository.lifecycle(c.tenant))?.erasedAt).toBeNull();

    const erased = await runCli(['tenants', 'erase', c.tenant, '--yes-erase', c.tenant, '--json'], env);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({ tenant: c.tenant, already_erased: false });
    expect((await app.context.tenantRepository.lifecycle(c.tenant))?.erasedAt).not.toBeNull();
    expect((await app.fetch('/v1/payloads', { token: c.apiKey })).status).toBe(410);
    const again = await runCli(['tenants', 'erase', c.tenant, '--yes-erase', c.tenant, '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ already_erased: true });
    const unknown = await runCli(['tenants', 'erase', 'ten_01JDG3ZZZZZZZZZZZZZZZZZZZZ', '--yes-erase', 'ten_01JDG3ZZZZZZZZZZZZZZZZZZZZ'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('SP_ERR_RESOURCE_NOT_FOUND');
  });
});
