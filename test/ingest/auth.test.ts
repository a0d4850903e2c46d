import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

describe.each(testDialects())('API keys and authentication on %s', (dialect) => {
  let app: TestApp;
  let tenant: { tenant: string; apiKey: string };

  beforeAll(async () => {
    app = await startTestApp(dialect, { env: { SEALPOST_RATE_LIMIT_PER_KEY: '1000' } });
    tenant = await app.createTenant();
  });
  afterAll(async () => {
    await app?.close();
  });

  const listPayloads = (token?: string) => app.fetch('/v1/payloads', token === undefined ? {} : { token });

  it('answers every bad credential with the same 401 and no hint', async () => {
    const [prefix] = /^sp_live_[a-z2-7]{12}_/.exec(tenant.apiKey)!;
    const wrongSecret = `${prefix}${'A'.repeat(43)}`;
    const answers = [await listPayloads(), await listPayloads('garbage'), await listPayloads(wrongSecret), await listPayloads(`sp_live_${'a'.repeat(12)}_${'A'.repeat(43)}`)];
    const bodies = new Set<string>();
    for (const res of answers) {
      expect(res.status).toBe(401);
      const body = (await res.json()) as Record<string, unknown>;
      bodies.add(JSON.stringify({ ...body, instance: undefined }));
    }
    expect(bodies.size).toBe(1);
  });

  it('creates scoped keys shown once, stored only as a hash', async () => {
    const res = await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'reader', scopes: ['payloads:read'] }) });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; api_key: string; prefix: string; scopes: string[] };
    expect(created.api_key).toMatch(/^sp_live_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.api_key.startsWith(created.prefix)).toBe(true);
    const row = await app.context.database.db.selectFrom('api_keys').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(created.api_key.slice(-43));
    // Listing never shows the secret.
    const list = await (await app.fetch('/v1/api-keys', { token: tenant.apiKey })).text();
    expect(list).not.toContain(created.api_key);
    // The read-only key may read but not write.
    expect((await listPayloads(created.api_key)).status).toBe(200);
    const write = await app.fetch('/v1/payloads', { method: 'POST', token: created.api_key, headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ code: 'SP_ERR_AUTH_SCOPE_MISSING' });
  });

  it('revokes a key at once', async () => {
    const created = (await (await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tmp', scopes: ['payloads:read'] }) })).json()) as { id: string; api_key: string };
    expect((await listPayloads(created.api_key)).status).toBe(200);
    expect((await app.fetch(`/v1/api-keys/${created.id}`, { method: 'DELETE', token: tenant.apiKey })).status).toBe(204);
    expect((await listPayloads(created.api_key)).status).toBe(401);
  });

  it('rotates a key: the successor works and the old one lasts only for the overlap', async () => {
    const created = (await (await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ci', scopes: ['payloads:read'] }) })).json()) as { id: string; api_key: string };
    const rotated = await app.fetch(`/v1/api-keys/${created.id}/rotate`, { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ overlap_days: 7 }) });
    expect(rotated.status).toBe(201);
    const successor = (await rotated.json()) as { api_key: string; rotated_from: string; previous: { expires_at: string } };
    expect(successor.rotated_from).toBe(created.id);
    const expires = Date.parse(successor.previous.expires_at) - Date.now();
    expect(expires).toBeGreaterThan(6.9 * 86_400_000);
    expect(expires).toBeLessThanOrEqual(7 * 86_400_000);
    expect((await listPayloads(created.api_key)).status).toBe(200);
    expect((await listPayloads(successor.api_key)).status).toBe(200);

    const tooLong = await app.fetch(`/v1/api-keys/${created.id}/rotate`, { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ overlap_days: 91 }) });
    expect(tooLong.status).toBe(400);

    const now = (await app.fetch(`/v1/api-keys/${created.id}/rotate`, { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ overlap_days: 0 }) })).status;
    expect(now).toBe(201);
    expect((await listPayloads(created.api_key)).status).toBe(401);
  });

  it('flags keys older than 365 days in listings and a response header', async () => {
    const created = (await (await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'old', scopes: ['payloads:read', 'keys:manage'] }) })).json()) as { id: string; api_key: string };
    expect((await listPayloads(created.api_key)).headers.get('sealpost-key-age-warning')).toBeNull();
    await app.context.database.db.updateTable('api_keys').set({ created_at: Date.now() - 366 * 86_400_000 }).where('id', '=', created.id).execute();
    expect((await listPayloads(created.api_key)).headers.get('sealpost-key-age-warning')).toMatch(/older than 365 days/);
    const list = (await (await app.fetch('/v1/api-keys', { token: created.api_key })).json()) as { data: { id: string; age_warning: boolean }[] };
    expect(list.data.find((k) => k.id === created.id)?.age_warning).toBe(true);
  });

  it('records key changes and every API call in the audit log', async () => {
    const created = (await (await app.fetch('/v1/api-keys', { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'audited', scopes: ['payloads:read'] }) })).json()) as { id: string; api_key: string };
    await app.fetch(`/v1/api-keys/${created.id}/rotate`, { method: 'POST', token: tenant.apiKey, headers: { 'content-type': 'application/json' }, body: '{}' });
    await app.fetch(`/v1/api-keys/${created.id}`, { method: 'DELETE', token: tenant.apiKey });
    await app.fetch('/v1/payloads', { token: 'sp_live_wrong' });
    const rows = async () =>
      app.context.database.db.selectFrom('audit_events').select(['action', 'resource', 'tenant_id', 'actor_id', 'event']).orderBy('log_index').execute();
    // The api.request events are written after each response; wait until the last one is in.
    for (let i = 0; i < 400 && !(await rows()).some((r) => r.action === 'api.request' && r.tenant_id === null); i++) await new Promise((r) => setTimeout(r, 50));
    const events = await rows();
    const forKey = events.filter((e) => e.resource === created.id).map((e) => e.action);
    expect(forKey).toEqual(expect.arrayContaining(['api_key.created', 'api_key.rotated', 'api_key.revoked']));
    const keyEvent = events.find((e) => e.action === 'api_key.created' && e.resource === created.id)!;
    expect(keyEvent.tenant_id).toBe(tenant.tenant);
    expect(keyEvent.actor_id).toBe(/^sp_live_([a-z2-7]{12})_/.exec(tenant.apiKey)![1]);
    expect(events.some((e) => e.action === 'api.request' && e.tenant_id === null)).toBe(true);
    // No secret ever reaches the log.
    for (const e of events) expect(e.event ?? '').not.toContain(created.api_key.slice(-43));
  });

  it("cannot see or revoke another tenant's keys (404)", async () => {
    const other = await app.createTenant();
    const mine = (await (await app.fetch('/v1/api-keys', { token: tenant.apiKey })).json()) as { data: { id: string }[] };
    const target = mine.data[0]!.id;
    expect((await app.fetch(`/v1/api-keys/${target}`, { method: 'DELETE', token: other.apiKey })).status).toBe(404);
    expect((await app.fetch(`/v1/api-keys/${target}/rotate`, { method: 'POST', token: other.apiKey, headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
  });
});

describe('rate limits', () => {
  it('answers 429 with retry-after once a key exceeds its limit', async () => {
    // The limiter's clock is injected: 20 s into a minute, so the five requests share one window.
    const minute = 1_900_000_020_000 - (1_900_000_020_000 % 60_000);
    let now = minute + 20_000;
    const app = await startTestApp('sqlite', { env: { SEALPOST_RATE_LIMIT_PER_KEY: '3' }, api: { now: () => now } });
    try {
      const { apiKey } = await app.createTenant();
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await app.fetch('/v1/payloads', { token: apiKey });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBe(40);
      // The next minute is a new window.
      now = minute + 60_000;
      expect((await app.fetch('/v1/payloads', { token: apiKey })).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
