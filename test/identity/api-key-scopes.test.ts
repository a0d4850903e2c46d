import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

interface CreatedKey {
  id: string;
  api_key: string;
  scopes: string[];
  expires_at: string | null;
}

describe.each(testDialects())('API keys never grant more than their manager holds, on %s', (dialect) => {
  let app: TestApp;
  let root: { tenant: string; apiKey: string };
  let rootKeyId: string;
  let manager: CreatedKey;

  const json = { 'content-type': 'application/json' };
  const createKey = (token: string, body: Record<string, unknown>) => app.fetch('/v1/api-keys', { method: 'POST', token, headers: json, body: JSON.stringify(body) });
  const rotateKey = (token: string, id: string, body: Record<string, unknown> = {}) =>
    app.fetch(`/v1/api-keys/${id}/rotate`, { method: 'POST', token, headers: json, body: JSON.stringify(body) });
  const keyCount = async () => (await app.context.database.db.selectFrom('api_keys').select('id').where('tenant_id', '=', root.tenant).execute()).length;
  const refusals = () =>
    app.context.database.db.selectFrom('audit_events').select(['actor_id', 'resource', 'event']).where('action', '=', 'api_key.refused').orderBy('log_index').execute();

  beforeAll(async () => {
    app = await startTestApp(dialect, { env: { SEALPOST_RATE_LIMIT_PER_KEY: '1000' } });
    root = await app.createTenant();
    const list = (await (await app.fetch('/v1/api-keys', { token: root.apiKey })).json()) as { data: { id: string }[] };
    rootKeyId = list.data[0]!.id;
    manager = (await (await createKey(root.apiKey, { name: 'key admin', scopes: ['keys:manage'] })).json()) as CreatedKey;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('refuses to create a key with a scope the creating key lacks (403, audited, nothing written)', async () => {
    const before = await keyCount();
    const res = await createKey(manager.api_key, { name: 'escalated', scopes: ['keys:manage', 'payloads:read'] });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_ESCALATION' });
    expect(await keyCount()).toBe(before);
    const refused = (await refusals()).at(-1)!;
    expect(refused.actor_id).toBe(manager.api_key.slice('sp_live_'.length, 'sp_live_'.length + 12));
    expect(JSON.parse(refused.event!)).toMatchObject({ details: { operation: 'create', missing_scopes: ['payloads:read'] } });
  });

  it('creates a key whose scopes are a subset of its own', async () => {
    const res = await createKey(manager.api_key, { name: 'peer', scopes: ['keys:manage'] });
    expect(res.status).toBe(201);
  });

  it('refuses to rotate a key with scopes the rotating key lacks, and hands out no token', async () => {
    const before = await keyCount();
    const res = await rotateKey(manager.api_key, rootKeyId);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain('SP_ERR_AUTH_SCOPE_ESCALATION');
    expect(body).not.toMatch(/sp_live_[a-z2-7]{12}_[A-Za-z0-9_-]{43}/);
    expect(await keyCount()).toBe(before);
    // The broader key is untouched: no overlap expiry was set on it.
    const rootRow = await app.context.database.db.selectFrom('api_keys').select('expires_at').where('id', '=', rootKeyId).executeTakeFirstOrThrow();
    expect(rootRow.expires_at).toBeNull();
    expect(JSON.parse((await refusals()).at(-1)!.event!)).toMatchObject({ resource: rootKeyId, details: { operation: 'rotate' } });
  });

  it('refuses to revoke a key with scopes the revoking key lacks', async () => {
    const res = await app.fetch(`/v1/api-keys/${rootKeyId}`, { method: 'DELETE', token: manager.api_key });
    expect(res.status).toBe(403);
    expect((await app.fetch('/v1/payloads', { token: root.apiKey })).status).toBe(200);
  });

  it("a rotation's successor keeps the predecessor's expiry", async () => {
    const expiresAt = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const expiring = (await (await createKey(root.apiKey, { name: 'expiring', scopes: ['payloads:read'], expires_at: expiresAt })).json()) as CreatedKey;
    const rotated = await rotateKey(root.apiKey, expiring.id, { overlap_days: 30 });
    expect(rotated.status).toBe(201);
    const successor = (await rotated.json()) as CreatedKey & { previous: { expires_at: string } };
    expect(successor.expires_at).toBe(expiresAt);
    // The overlap only ever shortens the old key's life.
    expect(successor.previous.expires_at).toBe(expiresAt);
  });

  it('refuses an expiry in the past', async () => {
    const res = await createKey(root.apiKey, { name: 'stale', scopes: ['payloads:read'], expires_at: new Date(Date.now() - 1000).toISOString() });
    expect(res.status).toBe(400);
  });
});
