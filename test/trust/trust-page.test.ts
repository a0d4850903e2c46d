import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackupService, openBackupTargets } from '../../src/app/backup-services.js';
import type { AuditActor } from '../../src/audit/audit-event.js';
import { pageCsp } from '../../src/http/html/csp.js';
import { TRUST_FACTS_TTL_MS, type TrustFacts } from '../../src/trust/trust-facts.js';
import { TrustFactsSchema } from '../../src/trust/trust-facts.schema.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';
import { writeTrustConfig } from './trust-test-support.js';

const ACTOR: AuditActor = { type: 'system', id: 'test' };
describe.each(testDialects())('/security and /security.json on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let dir: string;
  let offset = 0;
  const clock = (): number => Date.now() + offset;

  async function facts(): Promise<TrustFacts> {
    offset += TRUST_FACTS_TTL_MS + 1;
    const res = await app.fetch('/security.json');
    expect(res.status).toBe(200);
    const body = (await res.json()) as TrustFacts;
    expect([...Value.Errors(TrustFactsSchema, body)]).toEqual([]);
    return body;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sp-trust-page-'));
    const trust = writeTrustConfig(dir, { organization: 'Example <script>alert(1)</script> "Relay"' });
    app = await startTestApp(dialect, {
      env: { SEALPOST_TRUST_CONFIG: trust, SEALPOST_BACKUP_TARGET: path.join(dir, 'backup-a'), SEALPOST_BACKUP_REPLICA: path.join(dir, 'backup-b') },
      overrides: { trustClock: clock },
    });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the measured facts as schema-valid JSON, with no tenant data', async () => {
    const { tenant } = await app.createTenant();
    const body = await facts();
    expect(body.signing_keys).toMatchObject({ algorithm: 'Ed25519', scope: 'per-tenant', rotation_period_days: 90 });
    expect(body.encryption_at_rest).toMatchObject({ key_provider: 'local', rotation_status: 'ok', master_key_version: 1 });
    expect(body.tls.min_version).toBe('TLSv1.2');
    expect(body.tls.ciphers).toContain('TLS_AES_256_GCM_SHA384');
    expect(body.compliance.find((row) => row.framework.startsWith('ISO'))).toEqual({ framework: 'ISO/IEC 27001:2022', status: 'not-started' });
    expect(body.audit_log.size).toBeGreaterThan(0);
    expect(JSON.stringify(body)).not.toContain(tenant);
  });

  it('changes when a signing key rotates, a backup runs and a checkpoint is signed', async () => {
    const { tenant } = await app.createTenant();
    const before = await facts();
    expect(before.backups.last_backup_at).toBeNull();
    expect(before.backups.last_drill).toBeNull();

    await app.context.receipts.keys.rotate(tenant, { actor: ACTOR });
    const targets = await openBackupTargets(app.context.config);
    try {
      await createBackupService(app.context, targets).create(ACTOR);
    } finally {
      await targets.target.close();
      await targets.replica.close();
    }
    await app.context.audit.checkpoints.current();

    const after = await facts();
    expect(after.signing_keys.active_keys).toBe(before.signing_keys.active_keys + 1);
    expect(after.signing_keys.last_rotation_at).not.toBe(before.signing_keys.last_rotation_at);
    expect(after.signing_keys.next_rotation_at).not.toBeNull();
    expect(after.backups.last_backup_at).not.toBeNull();
    expect(after.audit_log.size).toBeGreaterThan(before.audit_log.size);
    expect(after.audit_log.latest_checkpoint?.tree_size).toBeGreaterThan(0);
  });

  it('keeps the facts for a few seconds: a burst of visitors costs one measurement', async () => {
    const first = await (await app.fetch('/security.json')).json();
    await app.context.tenants.create('Another', 'starter').then(({ tenant }) => app.context.receipts.keys.rotate(tenant.id, { actor: ACTOR }));
    expect(await (await app.fetch('/security.json')).json()).toEqual(first);
    expect((await facts()).signing_keys.active_keys).toBe((first as TrustFacts).signing_keys.active_keys + 1);
  });

  it('renders the page with the strict page CSP, every value as text, and an honest compliance table', async () => {
    await app.context.trust.securityKeys.create({ name: 'Sec', email: 'security@example.com', replace: true, actor: ACTOR });
    const body = await facts();
    const res = await app.fetch('/security');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(pageCsp());
    const page = await res.text();
    expect(page).not.toContain('<script');
    expect(page).toContain('Example &lt;script&gt;alert(1)&lt;/script&gt; &quot;Relay&quot;');
    expect(page).toMatch(/<th scope="row">ISO\/IEC 27001:2022<\/th><td><span class="badge badge-none">Not started<\/span><\/td><td>never<\/td>/);
    expect(page).toContain(body.security_key.fingerprint!.slice(0, 4));
    expect(page).toContain('href="/security/pgp-key.asc"');
    expect(page).toContain('€2,000 – €10,000');
  });
});

describe('/security against the fingerprint people published', () => {
  it('warns when the security key in use is not the one the trust config names', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sp-trust-page-'));
    const app = await startTestApp('sqlite', { env: { SEALPOST_TRUST_CONFIG: writeTrustConfig(dir, { pgpFingerprint: 'AAAA'.repeat(10) }) } });
    try {
      await app.context.trust.securityKeys.create({ name: 'Sec', email: 'security@example.com', replace: false, actor: ACTOR });
      const body = (await (await app.fetch('/security.json')).json()) as TrustFacts;
      expect(body.security_key).toMatchObject({ expected_fingerprint: 'AAAA'.repeat(10), matches_expected: false });
      expect(await (await app.fetch('/security')).text()).toContain('Does not match the published fingerprint');
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
