import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi } from '../../src/app/api.js';
import { createBackupService, openBackupTargets } from '../../src/app/backup-services.js';
import { createLogger } from '../../src/logging/logger.js';
import { createSealpost, type Sealpost } from '../../src/app/sealpost.js';
import { AUDIT_ACTIONS, type AuditAction, type AuditEvent } from '../../src/audit/audit-event.js';
import { loadConfig } from '../../src/config/config.load.js';
import { openDatabase } from '../../src/db/database.js';
import { enqueueDeliveries } from '../../src/delivery/outbox.repository.js';
import { buildHttpServer, type HttpServer } from '../../src/http/server.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { cliEnvFor } from './audit-test-support.js';
import { generate } from 'otplib';
import { startMailCapture, linkIn, type MailCapture } from '../support/mail-capture.js';
import { STRONG_PASSWORD, tokenOfLink } from '../support/operators.js';
import { encodeResponse, idpKeyPair, samlResponseXml, signAssertion } from '../identity/sso/saml-test-idp.js';
import type { TestIdp } from '../identity/sso/oidc-test-idp.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';
import { writeTestPrivateKey } from '../trust/trust-test-support.js';
import { asStaff, injectFetch, startStaffIdp, staffOidcLogin, staffSignIn } from '../support/staff.js';

/**
 * Declared actions no code path emits yet, to be emptied as the work lands (remove an entry
 * when its emitter merges; the test then holds it): no plan change exists yet.
 */
const NOT_YET_EMITTED: readonly AuditAction[] = [];

/** The secret a destination's custom header carries: it must never reach the log. */
const HEADER_SECRET = 'hunter2-header-value';
/** Chat-style webhook URLs carry their credential in the path or query: it must not reach the log either. */
const URL_SECRET = 'T0KEN0000secret';

describe.each(testDialects())('every declared audit action on %s', { timeout: 300_000 }, (dialect) => {
  let testDb: TestDatabase;
  let context: Sealpost;
  let server: HttpServer;
  let token = '';
  const txt = new Map<string, string[][]>();
  let tenantId = '';
  let refused: { flush(): Promise<void> };
  let mail: MailCapture;
  let staffIdp: TestIdp;
  let staffEnv: Record<string, string>;
  // The wall clock (TOTP codes are made on it), moved forward only at the end to let a staff grant expire.
  let clockOffset = 0;
  const identityClock = (): number => Date.now() + clockOffset;
  // The breach workflow's clock, moved 48 hours on to reach its first staff alert.
  let breachOffset = 0;

  beforeAll(async () => {
    ({ idp: staffIdp, env: staffEnv } = await startStaffIdp());
    testDb = await createTestDatabase(dialect);
    const env = cliEnvFor(testDb);
    mail = await startMailCapture();
    const config = loadConfig({ ...env, SEALPOST_HTTP_HOST: '127.0.0.1', SEALPOST_HTTP_PORT: '0', SEALPOST_LOG_LEVEL: 'silent', SEALPOST_OUTBOUND_SMTP_URL: mail.url, ...staffEnv });
    context = await createSealpost(config, {
      logger: createLogger('silent'),
      publicUrl: 'https://localhost',
      enqueue: enqueueDeliveries,
      destinationResolver: async () => ['93.184.216.34'],
      // A test event's connect-time lookup answers loopback: the SSRF guard refuses it before any byte leaves.
      destinationLookup: (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]),
      outboundMailTls: mail.tls,
      ssoTxtResolver: async (name) => txt.get(name) ?? [],
      identityClock,
      breachClock: () => Date.now() + breachOffset,
    });
    server = await buildHttpServer({ config, logger: context.logger, readiness: async () => {} });
    ({ refused } = await registerApi(server.app, context));
    await server.app.ready();
    const created = await context.tenants.create('Audited', 'operation');
    token = created.apiKey;
    tenantId = created.tenant.id;
  });
  afterAll(async () => {
    await server?.app.close();
    await context?.close();
    await testDb?.dispose();
    await mail?.close();
    await staffIdp?.close();
  });

  async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<Record<string, unknown>> {
    const res = await server.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return res.body === '' ? {} : (res.json<Record<string, unknown>>());
  }

  async function loggedEvents(): Promise<AuditEvent[]> {
    const rows = await context.database.db.selectFrom('audit_events').select('event').orderBy('log_index').execute();
    return rows.flatMap((r) => (r.event === null ? [] : [JSON.parse(r.event) as AuditEvent]));
  }

  it('emits each one through the code path that performs the action', async () => {
    const key = await call('POST', '/v1/api-keys', { name: 'ci', scopes: ['payloads:write'] });
    const successor = await call('POST', `/v1/api-keys/${String(key.id)}/rotate`, {});
    await call('DELETE', `/v1/api-keys/${String((successor as { id?: string }).id ?? key.id)}`);
    // A key manager asking for a scope it lacks is refused, and the refusal is an event.
    const manager = await call('POST', '/v1/api-keys', { name: 'key admin', scopes: ['keys:manage'] });
    const escalation = await server.app.inject({ method: 'POST', url: '/v1/api-keys', headers: { authorization: `Bearer ${String(manager.api_key)}` }, payload: { name: 'x', scopes: ['payloads:read'] } });
    expect(escalation.statusCode).toBe(403);
    // Past the first few refusals per client and minute, refusals are counted into api.refused.
    for (let i = 0; i < 8; i++) expect((await server.app.inject({ method: 'GET', url: '/v1/payloads' })).statusCode).toBe(401);
    await refused.flush();

    const destination = await call('POST', '/v1/destinations', { url: `https://hooks.example.com/in/${URL_SECRET}?key=${URL_SECRET}`, headers: { 'X-Receiver-Auth': HEADER_SECRET } });
    const id = String(destination.id);
    await call('PATCH', `/v1/destinations/${id}`, { timeout_ms: 5_000, headers: { 'X-Receiver-Auth': `${HEADER_SECRET}-2` } });
    await call('PATCH', `/v1/destinations/${id}`, { enabled: false });
    await call('POST', `/v1/destinations/${id}/replay`, { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' });
    await call('DELETE', `/v1/destinations/${id}`);

    const inbox = await call('POST', '/v1/inboxes', { dmarc_policy: 'reject' });
    await call('DELETE', `/v1/inboxes/${String(inbox.id)}`);

    // "Send test event" is recorded whatever the receiver did (here the SSRF guard refused it).
    const tested = await call('POST', '/v1/destinations', { url: 'https://hooks.example.com/tested' });
    expect(await call('POST', `/v1/destinations/${String(tested.id)}/test`)).toMatchObject({ ok: false, error_class: 'ssrf_refused' });
    await call('POST', '/v1/payloads', { invoice: 42 });
    const pending = (await call('GET', `/v1/deliveries?destination=${String(tested.id)}`)) as { data: { id: string }[] };
    expect(await call('POST', '/v1/deliveries/retry', { ids: pending.data.map((d) => d.id) })).toMatchObject({ retried: [pending.data[0]?.id], not_retried: [] });
    const exported = await server.app.inject({
      method: 'POST',
      url: '/v1/audit/exports',
      headers: { authorization: `Bearer ${token}` },
      payload: { from: '2020-01-01T00:00:00.000Z', to: '2100-01-01T00:00:00.000Z', format: 'jsonl' },
    });
    expect(exported.statusCode).toBe(200);
    const dataExport = await server.app.inject({ method: 'POST', url: '/v1/exports', headers: { authorization: `Bearer ${token}` }, payload: {} });
    expect(dataExport.statusCode).toBe(200);
    expect(dataExport.rawPayload.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    await context.audit.retention.purgeExpired();
    const rotated = await runCli(['keys', 'rotate', '--kek', '--json'], { ...cliEnvFor(testDb), SEALPOST_DATA_DIR: path.join(testDb.dir, 'data') });
    expect(rotated.code, rotated.stderr).toBe(0);
    // A tenant created at the command line runs the same audited service as every other path.
    const cliTenant = await runCli(['tenants', 'create', '--name', 'From the CLI', '--plan', 'starter'], { ...cliEnvFor(testDb), SEALPOST_DATA_DIR: path.join(testDb.dir, 'data') });
    expect(cliTenant.code, cliTenant.stderr).toBe(0);
    const createdByCli = JSON.parse(cliTenant.stdout) as { tenant: string; api_key: string };
    // Signing keys have no rotating API route: the CLI is their admin path.
    const signing = await runCli(['keys', 'rotate', '--signing', '--tenant', createdByCli.tenant, '--json'], { ...cliEnvFor(testDb), SEALPOST_DATA_DIR: path.join(testDb.dir, 'data') });
    expect(signing.code, signing.stderr).toBe(0);
    const resealed = await runCli(['keys', 'reseal-legacy', '--json'], { ...cliEnvFor(testDb), SEALPOST_DATA_DIR: path.join(testDb.dir, 'data') });
    expect(resealed.code, resealed.stderr).toBe(0);

    // Operators (issue 11): created, password set, sign-in failed and succeeded, TOTP enrolled,
    // session revoked, second factor verified, members invited, changed and removed, policy changed.
    const peopleTenant = await context.tenants.create('People', 'operation');
    const people = peopleTenant.tenant.id;
    const owner = await context.identity.members.createOperator(people, 'owner@example.com', 'owner', { type: 'system', id: 'test' });
    expect((await server.app.inject({ method: 'POST', url: '/v1/auth/password/setup', payload: { token: tokenOfLink(owner.link!), password: STRONG_PASSWORD } })).statusCode).toBe(204);
    expect((await server.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'owner@example.com', password: 'not the password at all' } })).statusCode).toBe(401);
    const signIn = async (): Promise<{ cookie: string; csrf: string }> => {
      const res = await server.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'owner@example.com', password: STRONG_PASSWORD } });
      expect(res.statusCode, res.body).toBe(200);
      return { cookie: String(res.headers['set-cookie']).split(';')[0]!, csrf: res.json<{ csrf_token: string }>().csrf_token };
    };
    let session = await signIn();
    const asOwner = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
      const res = await server.app.inject({ method, url, headers: { cookie: session.cookie, 'x-sealpost-csrf': session.csrf }, ...(payload === undefined ? {} : { payload }) });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
      if (res.headers['set-cookie'] && res.body !== '') session = { cookie: String(res.headers['set-cookie']).split(';')[0]!, csrf: res.json<{ csrf_token: string }>().csrf_token };
      return res.body === '' ? {} : res.json<Record<string, unknown>>();
    };
    const { secret } = (await asOwner('POST', '/v1/auth/totp/enrolment')) as { secret: string };
    const { recovery_codes: codes } = (await asOwner('POST', '/v1/auth/totp/confirmation', { totp: await generate({ secret }) })) as { recovery_codes: string[] };
    await asOwner('POST', '/v1/auth/logout');
    session = await signIn();
    await asOwner('POST', '/v1/auth/second-factor', { recovery_code: codes[0] });
    const invited = await asOwner('POST', '/v1/members', { email: 'dev@example.com', role: 'developer' });
    linkIn(await mail.waitFor('dev@example.com'));
    await asOwner('PATCH', `/v1/members/${String(invited.id)}`, { role: 'viewer' });
    await asOwner('DELETE', `/v1/members/${String(invited.id)}`);
    await asOwner('PUT', '/v1/policies', { webauthn_only: false, sso_default_role: 'developer' });
    // Where breach notices go: the owner's list of security contacts.
    await asOwner('PUT', '/v1/security-contacts', { contacts: ['security@people.example'] });
    // SSO: settings and domains through the admin API, by the owner (a security policy); a login refused (forged state) and one
    // verified (a signed SAML assertion, without MFA: a session whose second factor is still due).
    await asOwner('PUT', '/v1/sso/oidc', { issuer: 'https://login.example.com', client_id: 'sealpost', client_secret: 'oidc-secret' });
    const forged = await server.app.inject({ method: 'GET', url: `/v1/auth/oidc/${people}/callback?state=forged&code=x` });
    expect(forged.statusCode).toBe(401);
    await asOwner('DELETE', '/v1/sso/oidc');
    const idpKey = await idpKeyPair('Audit test IdP');
    const saml = await asOwner('PUT', '/v1/sso/saml', { idp_entity_id: 'https://idp.example.com', idp_sso_url: 'https://idp.example.com/sso', idp_certificates: [idpKey.certPem] });
    const domain = await asOwner('POST', '/v1/sso/domains', { domain: 'audited.example' });
    txt.set('_sealpost-verify.audited.example', [[String(domain.txt_value)]]);
    await asOwner('POST', '/v1/sso/domains/audited.example/verify');
    const now = Date.now();
    const assertion = samlResponseXml({
      issuer: 'https://idp.example.com',
      audience: String(saml.sp_entity_id),
      recipient: String(saml.acs_url),
      email: 'ada@audited.example',
      notBefore: new Date(now - 60_000),
      notOnOrAfter: new Date(now + 300_000),
    });
    const acs = await server.app.inject({ method: 'POST', url: `/v1/auth/saml/${people}/acs`, payload: new URLSearchParams({ SAMLResponse: encodeResponse(signAssertion(assertion, idpKey)) }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(acs.json()).toMatchObject({ enrolment_required: true, session: { second_factor_satisfied: false } });
    await asOwner('DELETE', '/v1/sso/saml');
    await asOwner('DELETE', '/v1/sso/domains/audited.example');

    expect((await server.app.inject({ method: 'POST', url: '/v1/auth/password/reset-request', payload: { email: 'owner@example.com' } })).statusCode).toBe(202);
    await mail.waitFor('owner@example.com');
    // The owner sets the retention, then erases the tenant in two steps from the same session
    // (last: the erasure ends this session; the other tenants keep working).
    const doomedPayload = await server.app.inject({ method: 'POST', url: '/v1/payloads', headers: { authorization: `Bearer ${peopleTenant.apiKey}` }, payload: { to: 'be swept' } });
    expect(doomedPayload.statusCode).toBe(202);
    await asOwner('PATCH', '/v1/tenant', { retention_days: 30 });
    const asked = await asOwner('POST', '/v1/tenant/erasure', {});
    expect(await asOwner('POST', '/v1/tenant/erasure', { confirmation_token: String(asked.confirmation_token) })).toMatchObject({ status: 'erased', tenant: people });
    // The scheduler's retention sweep removes what the erased tenant left.
    expect(await context.payloadRetention.purgeExpired()).toHaveLength(1);

    // Staff: enrolled at the command line, signed in through the deployment's OIDC provider and
    // WebAuthn (one refused), grants requested, denied, approved, revoked, expired and
    // break-glass; a tenant's plan changed.
    const cliEnv = { ...cliEnvFor(testDb), SEALPOST_DATA_DIR: path.join(testDb.dir, 'data') };
    const enrol = async (email: string): Promise<string> => {
      const added = await runCli(['staff', 'add', '--email', email, '--json'], cliEnv);
      expect(added.code, added.stderr).toBe(0);
      return (JSON.parse(added.stdout) as { enrolment_code: string }).enrolment_code;
    };
    const viaInject = injectFetch(server.app);
    const staffKey = () => new SoftwareAuthenticator('localhost', 'https://localhost');
    const ada = await staffSignIn(viaInject, staffIdp, { sub: 'ada', email: 'ada@ops.example', key: staffKey(), enrolmentCode: await enrol('ada@ops.example') });
    const bob = await staffSignIn(viaInject, staffIdp, { sub: 'bob', email: 'bob@ops.example', key: staffKey(), enrolmentCode: await enrol('bob@ops.example') });
    expect((await staffOidcLogin(viaInject, staffIdp, { sub: 'eve', email: 'eve@ops.example' })).res.status).toBe(401);
    const asStaffMember = async (who: typeof ada, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => {
      const res = await server.app.inject({ method, url, headers: asStaff(who), ...(payload === undefined ? {} : { payload }) });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
      return res.json<{ id: string }>();
    };
    const ask = (minutes = 60) => asStaffMember(ada, 'POST', '/staff/v1/grants', { tenant: tenantId, scope: 'read', reason: 'audit test of staff access', duration_minutes: minutes });
    await asStaffMember(bob, 'POST', `/staff/v1/grants/${(await ask()).id}/deny`);
    const revocable = await ask();
    await asStaffMember(bob, 'POST', `/staff/v1/grants/${revocable.id}/approve`);
    await asStaffMember(bob, 'POST', `/staff/v1/grants/${revocable.id}/revoke`);
    await asStaffMember(bob, 'POST', `/staff/v1/grants/${(await ask(1)).id}/approve`);
    await asStaffMember(ada, 'POST', '/staff/v1/grants/break-glass', { tenant: tenantId, scope: 'read', reason: 'audit test: nobody answers', duration_minutes: 30 });
    await mail.waitFor('bob@ops.example');
    await asStaffMember(bob, 'PUT', `/staff/v1/tenants/${tenantId}/plan`, { plan: 'growth' });
    // A confirmed breach: declared by staff; the tenant has no contact and no owner, so no mail can
    // go and the scheduler's job alerts staff at 48 h; staff record the notice and acknowledgement given by phone.
    const declared = await asStaffMember(ada, 'POST', '/staff/v1/breaches', { title: 'Audit test breach', summary: 'A confirmed exposure, for the audit test.', tenants: [tenantId] });
    breachOffset += 48 * 3_600_000;
    await context.breaches.run();
    await asStaffMember(ada, 'POST', `/staff/v1/breaches/${String(declared.id)}/tenants/${tenantId}/notified`);
    await asStaffMember(ada, 'POST', `/staff/v1/breaches/${String(declared.id)}/tenants/${tenantId}/ack`);
    expect(await asStaffMember(ada, 'GET', `/staff/v1/breaches/${String(declared.id)}`)).toMatchObject({ notices: [{ tenant: tenantId, notified_via: 'manual', evidence: 'audit_event' }] });
    // The status page: staff open an incident, waive its postmortem and resolve it; the CLI opens
    // another, publishes its postmortem and resolves it; staff schedule maintenance, the CLI
    // cancels it; the probe job's first run records each component's state.
    const incident = await asStaffMember(ada, 'POST', '/staff/v1/status/incidents', { title: 'Delayed deliveries', impact: 'minor', components: ['delivery'], customer_visible: true, message: 'Looking into it.' });
    await asStaffMember(ada, 'POST', `/staff/v1/status/incidents/${incident.id}/postmortem-waiver`, { reason: 'upstream provider outage, documented by them' });
    await asStaffMember(bob, 'POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'resolved', message: 'Recovered.' });
    const cliIncident = await runCli(['incidents', 'open', '--title', 'SMTP refused mail', '--impact', 'major', '--components', 'smtp_ingress', '--customer-visible', '--message', 'Investigating.', '--json'], cliEnv);
    expect(cliIncident.code, cliIncident.stderr).toBe(0);
    const cliIncidentId = (JSON.parse(cliIncident.stdout) as { id: string }).id;
    const postmortemFile = path.join(testDb.dir, 'postmortem.md');
    writeFileSync(postmortemFile, '# Timeline\n\nThe certificate expired.');
    const published = await runCli(['incidents', 'postmortem', cliIncidentId, '--root-cause', 'An expired certificate.', '--file', postmortemFile], cliEnv);
    expect(published.code, published.stderr).toBe(0);
    const resolved = await runCli(['incidents', 'update', cliIncidentId, '--state', 'resolved', '--message', 'Renewed.'], cliEnv);
    expect(resolved.code, resolved.stderr).toBe(0);
    const window = await asStaffMember(ada, 'POST', '/staff/v1/status/maintenance', {
      components: ['console'],
      starts_at: new Date(Date.now() + 3_600_000).toISOString(),
      ends_at: new Date(Date.now() + 7_200_000).toISOString(),
      note: 'Console upgrade',
    });
    const cancelled = await runCli(['maintenance', 'cancel', window.id], cliEnv);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    await context.status.components.run();
    clockOffset += 2 * 60_000;
    await asStaffMember(bob, 'GET', '/staff/v1/grants');
    const offboarded = await runCli(['staff', 'disable', '--email', 'bob@ops.example'], cliEnv);
    expect(offboarded.code, offboarded.stderr).toBe(0);

    // Backups: the CLI takes a snapshot and restores it elsewhere (the restore is recorded in the
    // restored database); the scheduler's retention prunes it; the keyring goes out and back in.
    const backupEnv = { ...cliEnvFor(testDb), SEALPOST_BACKUP_TARGET: path.join(testDb.dir, 'backup-a'), SEALPOST_BACKUP_REPLICA: path.join(testDb.dir, 'backup-b') };
    const snapshot = await runCli(['backup', 'create', '--json'], backupEnv);
    expect(snapshot.code, snapshot.stderr).toBe(0);
    const snapshotId = (JSON.parse(snapshot.stdout) as { id: string }).id;
    const restoreDb = await createTestDatabase(dialect);
    try {
      const to = restoreDb.config.dialect === 'postgres' ? restoreDb.config.url : path.join(restoreDb.dir, 'data');
      const restoreEnv = { ...backupEnv, ...(restoreDb.config.dialect === 'postgres' ? {} : { SEALPOST_DATA_DIR: to }) };
      if (restoreDb.config.dialect === 'sqlite') cpSync(path.join(testDb.dir, 'data', 'keyring'), path.join(to, 'keyring'), { recursive: true });
      const restoredRun = await runCli(['backup', 'restore', snapshotId, '--to', to, '--from', 'replica', '--scrub'], restoreEnv);
      expect(restoredRun.code, restoredRun.stderr).toBe(0);
      const handle = restoreDb.config.dialect === 'postgres' ? restoreDb.open() : openDatabase({ dialect: 'sqlite', file: path.join(to, 'sealpost.db') });
      const restoredEvents = await handle.db.selectFrom('audit_events').select('event').where('action', 'in', ['backup.restored', 'backup.scrubbed']).orderBy('log_index').execute();
      if (restoreDb.config.dialect === 'sqlite') await handle.close();
      expect(restoredEvents.map((r) => JSON.parse(r.event ?? '{}') as AuditEvent)).toEqual([
        expect.objectContaining({ action: 'backup.restored', resource: snapshotId }),
        expect.objectContaining({ action: 'backup.scrubbed', resource: snapshotId, details: expect.objectContaining({ payloads: expect.any(Number) }) }),
      ]);
    } finally {
      await restoreDb.dispose();
    }
    const targets = await openBackupTargets(loadConfig(backupEnv));
    try {
      await createBackupService(context, targets).create({ type: 'system', id: 'scheduler' });
      expect(await createBackupService(context, targets, () => Date.now() + 400 * 86_400_000).prune({ type: 'system', id: 'scheduler' })).toContain(snapshotId);
    } finally {
      await targets.target.close();
      await targets.replica.close();
    }
    const drill = await runCli(['backup', 'drill', '--json'], backupEnv);
    expect(drill.code, drill.stderr + drill.stdout).toBe(0);
    const recoveryFile = path.join(testDb.dir, 'keyring.recovery');
    const exportedKeys = await runCli(['keys', 'export-recovery', '--out', recoveryFile, '--json'], backupEnv);
    expect(exportedKeys.code, exportedKeys.stderr).toBe(0);
    const recoveryKey = (JSON.parse(exportedKeys.stdout) as { recovery_key: string }).recovery_key;
    const importedKeys = await runCli(['keys', 'import-recovery', '--in', recoveryFile, '--json'], backupEnv, `${recoveryKey}\n`);
    expect(importedKeys.code, importedKeys.stderr).toBe(0);
    expect(JSON.parse(importedKeys.stdout)).toMatchObject({ written: 0, audited: true });
    const backupEvents = (await loggedEvents()).filter((e) => e.action.startsWith('backup.') || e.action.startsWith('keys.'));
    expect(JSON.stringify(backupEvents)).not.toContain(recoveryKey);

    // The deployment's security key (src/trust/): created at the command line, then replaced by an
    // imported one and the auditors' evidence exported through the same services the CLI calls.
    const createdKey = await runCli(['security-key', 'create', '--json'], backupEnv);
    expect(createdKey.code, createdKey.stderr).toBe(0);
    const keyFile = await writeTestPrivateKey(testDb.dir);
    const cliActor = { type: 'system', id: 'sealpost-cli' } as const;
    const importedKey = await context.trust.securityKeys.import({ armored: readFileSync(keyFile.file, 'utf8'), replace: true, actor: cliActor });
    const keyEvents = (await loggedEvents()).filter((e) => e.action.startsWith('security_key.'));
    expect(keyEvents.map((e) => [e.action, e.tenant, e.actor])).toEqual([
      ['security_key.created', null, cliActor],
      ['security_key.imported', null, cliActor],
    ]);
    expect(keyEvents[1]!.details).toMatchObject({ fingerprint: importedKey.fingerprint, replaced: (JSON.parse(createdKey.stdout) as { id: string }).id });
    const evidence = await context.trust.evidence.build({ from: Date.parse('2025-01-01'), to: Date.parse('2031-01-01') }, cliActor);
    expect((await loggedEvents()).find((e) => e.action === 'compliance.evidence_exported')).toMatchObject({ tenant: null, resource: evidence.manifest.id });

    // api.request is written after the response; poll for it.
    await expect.poll(async () => (await loggedEvents()).some((e) => e.action === 'api.request'), { timeout: 20_000 }).toBe(true);
    const events = await loggedEvents();
    const emitted = new Set<AuditAction>([...events.map((e) => e.action), 'backup.restored', 'backup.scrubbed']);
    expect(AUDIT_ACTIONS.filter((action) => !NOT_YET_EMITTED.includes(action) && !emitted.has(action))).toEqual([]);
    expect(NOT_YET_EMITTED.every((action) => AUDIT_ACTIONS.includes(action))).toBe(true);

    // What the destination events record: the changed settings, header names, never header values.
    const text = JSON.stringify(events);
    expect(text).not.toContain(HEADER_SECRET);
    expect(text).not.toContain(URL_SECRET);
    // Never a password, a code or a token.
    expect(text).not.toContain(STRONG_PASSWORD);
    expect(text).not.toContain(codes[0]);
    expect(text).not.toContain(tokenOfLink(owner.link!));
    expect(text).not.toContain(session.cookie.split('=')[1]);
    expect(events.find((e) => e.action === 'destination.tested')).toMatchObject({
      resource: tested.id,
      details: { status_code: null, error_class: 'ssrf_refused', webhook_id: expect.stringMatching(/^msg_/) },
    });
    expect(events.find((e) => e.action === 'delivery.retried')).toMatchObject({ details: { count: 1, deliveries: [pending.data[0]?.id] } });
    const ofDestination = events.filter((e) => e.resource === id && e.action.startsWith('destination.')).map((e) => [e.action, e.details]);
    expect(ofDestination).toEqual([
      ['destination.created', expect.objectContaining({ url_origin: 'https://hooks.example.com', url_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), header_names: ['X-Receiver-Auth'], enabled: true })],
      ['destination.updated', { changed: ['headers', 'timeout_ms'], header_names: ['X-Receiver-Auth'], timeout_ms: 5_000 }],
      ['destination.disabled', { changed: ['enabled'], enabled: false, reason: 'disabled by API' }],
      ['destination.replayed', { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z', count: 0 }],
      ['destination.deleted', undefined],
    ]);
    expect(events.find((e) => e.action === 'inbox.created')).toMatchObject({ resource: inbox.id, actor: { type: 'api_key' }, details: { dmarc_policy: 'reject' } });
    expect(events.filter((e) => e.tenant === createdByCli.tenant).map((e) => [e.action, e.actor])).toEqual([
      ['tenant.created', { type: 'system', id: 'sealpost-cli' }],
      ['api_key.created', { type: 'system', id: 'sealpost-cli' }],
      ['signing_key.rotated', { type: 'system', id: 'sealpost-cli' }],
    ]);
    // SSO settings changed in an owner's session name that operator.
    const ownerId = owner.operatorId;
    const ssoConfig = events.filter((e) => /^sso\.(oidc|saml|domain)_/.test(e.action));
    expect(ssoConfig.length).toBeGreaterThanOrEqual(7);
    expect(ssoConfig.every((e) => e.tenant === people && e.actor.type === 'operator' && e.actor.id === ownerId)).toBe(true);
    expect(events.find((e) => e.action === 'kek.rotated')).toMatchObject({ tenant: null, actor: { type: 'system', id: 'cli' }, details: { kek: 'local:v2' } });
  });
});
