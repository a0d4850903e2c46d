import { sql } from 'kysely';
import { GroupCommitter } from '../../src/db/group-commit.js';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditExport } from '../../packages/verify/src/audit-export.js';
import { parseVerifierKey, verifyCheckpoint, type LogVerifierKey } from '../../packages/verify/src/checkpoint.js';
import { canonicalizeToBuffer } from '../../packages/verify/src/canonical-json.js';
import { isVerifyError } from '../../packages/verify/src/errors.js';
import { hashLeaf, verifyConsistency, verifyInclusion } from '../../packages/verify/src/merkle.js';
import { auditRequestsHook } from '../../src/audit/audit-request.hook.js';
import type { AuditServices } from '../../src/app/audit-services.js';
import { auditRoutes } from '../../src/audit/audit.routes.js';
import { logKeyRoutes } from '../../src/audit/log-key.routes.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { genRequestId } from '../../src/http/request-id.js';
import { ApiKeyRepository } from '../../src/identity/api-key.repository.js';
import { ApiKeyService } from '../../src/identity/api-key.service.js';
import { authorizeHook } from '../../src/http/auth.plugin.js';
import { ROUTE_RULES } from '../../src/identity/permissions.js';
import { TenantRepository } from '../../src/identity/tenant.repository.js';
import { TenantService } from '../../src/identity/tenant.service.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../support/test-database.js';
import { ORIGIN, servicesFor } from './audit-test-support.js';

interface Problem {
  code: string;
  detail: string;
}

/** Polls until `check` passes (the request hook writes after the response); gives up after 20 s at the earliest. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2_000; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met');
}

describe.each(testDialects())('audit API on %s', (dialect) => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  let services: AuditServices;
  let app: FastifyInstance;
  let logKey: LogVerifierKey;
  const tenant = { operation: { id: '', token: '' }, starter: { id: '', token: '' } };
  let noAuditScope = '';

  beforeAll(async () => {
    testDb = await createTestDatabase(dialect);
    handle = await testDb.openMigrated();
    services = servicesFor(testDb, handle);
    const apiKeys = new ApiKeyService(new ApiKeyRepository(handle.db));
    // Not audited here: the tests below count the events their own requests write.
    const tenants = new TenantService(handle.db, new TenantRepository(handle.db), apiKeys, async () => {});
    for (const plan of ['operation', 'starter'] as const) {
      const created = await tenants.create(`tenant on ${plan}`, plan);
      tenant[plan] = { id: created.tenant.id, token: created.apiKey };
    }
    noAuditScope = (await apiKeys.issue(tenant.operation.id, { name: 'ingest only', scopes: ['payloads:write'] })).token;

    // As src/http/server.ts configures it: the caller's x-request-id is kept when safe.
    app = Fastify({ requestIdHeader: false, genReqId: genRequestId });
    registerErrorHandling(app);
    await app.register(logKeyRoutes, { keys: services.keys });
    await app.register(async (v1) => {
      v1.addHook('onRequest', authorizeHook({ keys: apiKeys, origin: 'https://localhost', now: Date.now, rules: { ...ROUTE_RULES, 'GET /v1/things/:id': { access: 'any', permission: 'signing_keys:read' } } }));
      v1.addHook('onResponse', auditRequestsHook(services.log, new GroupCommitter(handle.db)));
      await v1.register(auditRoutes, { audit: services.audit });
      v1.get('/v1/things/:id', async () => ({ ok: true }));
    });
    await app.ready();

    // Events of both tenants and the system, interleaved.
    for (let i = 0; i < 12; i += 1) {
      const owner = i % 3 === 0 ? null : i % 3 === 1 ? tenant.operation.id : tenant.starter.id;
      await services.log.appendInOwnTransaction(handle.db, {
        time: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
        tenant: owner,
        actor: { type: i % 2 === 0 ? 'operator' : 'api_key', id: `actor${i % 2}` },
        action: i % 4 === 1 ? 'destination.created' : 'api_key.created',
        resource: `res_${i}`,
      });
    }
    const res = await app.inject({ method: 'GET', url: '/.well-known/sealpost-log-key' });
    logKey = parseVerifierKey(res.body);
  });
  afterAll(async () => {
    await app?.close();
    await testDb.dispose();
  });

  const get = (url: string, token = tenant.operation.token) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const indexesOf = async (tenantId: string): Promise<number[]> =>
    (await handle.db.selectFrom('audit_events').select('log_index').where('tenant_id', '=', tenantId).orderBy('log_index').execute()).map((r) => r.log_index);

  it('publishes the log key at /.well-known/sealpost-log-key without authentication', async () => {
    const res = await app.inject({ method: 'GET', url: '/.well-known/sealpost-log-key' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe(`${(await services.keys.currentKey()).verifierKey}\n`);
    expect(logKey.name).toBe(ORIGIN);
  });

  it('refuses callers without a key or without the audit:read scope, and records the attempts', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/audit/checkpoint' })).statusCode).toBe(401);
    const res = await get('/v1/audit/checkpoint', noAuditScope);
    expect([res.statusCode, res.json<Problem>().code]).toEqual([403, 'SP_ERR_AUTH_SCOPE_MISSING']);
    await eventually(async () => {
      const rows = await handle.db.selectFrom('audit_events').select('event').where('action', '=', 'api.request').execute();
      const events = rows.map((r) => JSON.parse(r.event as string) as { tenant: string | null; actor: { id: string | null }; request: { status: number; route: string } });
      return (
        events.some((e) => e.tenant === null && e.actor.id === null && e.request.status === 401) &&
        events.some((e) => e.tenant === tenant.operation.id && e.request.status === 403 && e.request.route === '/v1/audit/checkpoint')
      );
    });
  });

  it('records each request with its route pattern, resource id, status, IP, user agent and request id', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/things/thg_42?secret=x', headers: { authorization: `Bearer ${tenant.starter.token}`, 'user-agent': 'probe/1.0', 'x-request-id': 'req-audit-1' } });
    expect(res.statusCode).toBe(200);
    const prefix = (await handle.db.selectFrom('api_keys').select('prefix').where('tenant_id', '=', tenant.starter.id).executeTakeFirstOrThrow()).prefix;
    let found: unknown;
    await eventually(async () => {
      const row = await handle.db.selectFrom('audit_events').select('event').where('resource', '=', 'thg_42').executeTakeFirst();
      found = row && JSON.parse(row.event as string);
      return found !== undefined;
    });
    expect(found).toEqual({
      time: expect.any(String),
      tenant: tenant.starter.id,
      actor: { type: 'api_key', id: prefix },
      action: 'api.request',
      resource: 'thg_42',
      request: { method: 'GET', route: '/v1/things/:id', status: 200, ip: '127.0.0.1', user_agent: 'probe/1.0', request_id: 'req-audit-1' },
    });
  });

  it('serves a signed checkpoint covering the head', async () => {
    const res = await get('/v1/audit/checkpoint');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ checkpoint: string; tree_size: number; root_hash: string }>();
    const verified = verifyCheckpoint(body.checkpoint, logKey, { origin: ORIGIN });
    expect(verified.treeSize).toBe(body.tree_size);
    expect(verified.treeSize).toBeGreaterThanOrEqual(12);
    expect(verified.rootHash.toString('base64')).toBe(body.root_hash);
  });

  it("proves the tenant's own events included, against the latest checkpoint or a given size", async () => {
    const mine = await indexesOf(tenant.operation.id);
    const events = await get('/v1/audit/events?limit=1000');
    const byIndex = new Map(events.json<{ data: { index: number; event: unknown }[] }>().data.map((e) => [e.index, e.event]));
    for (const index of mine.slice(0, 4)) {
      const res = await get(`/v1/audit/proof/inclusion?index=${index}`);
      expect(res.statusCode).toBe(200);
      const body = res.json<{ index: number; tree_size: number; leaf_hash: string; proof: string[]; checkpoint: string }>();
      const head = verifyCheckpoint(body.checkpoint, logKey);
      const leaf = hashLeaf(canonicalizeToBuffer(byIndex.get(index)));
      expect(leaf.toString('base64')).toBe(body.leaf_hash);
      expect(verifyInclusion(leaf, index, head.treeSize, body.proof.map((p) => Buffer.from(p, 'base64')), head.rootHash)).toBe(true);

      const sized = (await get(`/v1/audit/proof/inclusion?index=${index}&tree_size=${index + 1}`)).json<{ proof: string[]; tree_size: number }>();
      expect(sized.tree_size).toBe(index + 1);
      expect(verifyInclusion(leaf, index, index + 1, sized.proof.map((p) => Buffer.from(p, 'base64')), await services.tree.root(index + 1))).toBe(true);
    }
  });

  it("refuses proofs of another tenant's events as not found, and sizes beyond the log", async () => {
    const theirs = (await indexesOf(tenant.starter.id))[0] as number;
    const res = await get(`/v1/audit/proof/inclusion?index=${theirs}`);
    expect([res.statusCode, res.json<Problem>().code]).toEqual([404, 'SP_ERR_RESOURCE_NOT_FOUND']);
    expect((await get('/v1/audit/proof/inclusion?index=0')).statusCode).toBe(404); // a system event
    expect((await get('/v1/audit/proof/inclusion?index=999999')).statusCode).toBe(404);
    const mine = (await indexesOf(tenant.operation.id))[0] as number;
    for (const query of [`index=${mine}&tree_size=999999`, `index=${mine}&tree_size=${mine}`]) {
      const bad = await get(`/v1/audit/proof/inclusion?${query}`);
      expect([bad.statusCode, bad.json<Problem>().code]).toEqual([400, 'SP_ERR_AUDIT_TREE_SIZE_INVALID']);
    }
    expect((await get('/v1/audit/proof/inclusion?index=-1')).statusCode).toBe(400);
  });

  it('proves consistency between two checkpoints', async () => {
    const first = verifyCheckpoint((await get('/v1/audit/checkpoint')).json<{ checkpoint: string }>().checkpoint, logKey);
    await services.log.appendInOwnTransaction(handle.db, { time: new Date().toISOString(), tenant: null, actor: { type: 'system', id: 'test' }, action: 'kek.rotated' });
    await services.checkpoints.current();
    const second = verifyCheckpoint((await get('/v1/audit/checkpoint')).json<{ checkpoint: string }>().checkpoint, logKey);
    expect(second.treeSize).toBeGreaterThan(first.treeSize);
    const res = await get(`/v1/audit/proof/consistency?from=${first.treeSize}&to=${second.treeSize}`);
    const proof = res.json<{ proof: string[] }>().proof.map((p) => Buffer.from(p, 'base64'));
    expect(verifyConsistency(first.treeSize, second.treeSize, proof, first.rootHash, second.rootHash)).toBe(true);
    expect((await get(`/v1/audit/proof/consistency?from=${second.treeSize}&to=${first.treeSize}`)).statusCode).toBe(400);
    expect((await get(`/v1/audit/proof/consistency?from=1&to=999999`)).json<Problem>().code).toBe('SP_ERR_AUDIT_TREE_SIZE_INVALID');
  });

  it("lists only the tenant's own events, filtered and paged", async () => {
    const all = (await get('/v1/audit/events?limit=1000')).json<{ data: { index: number; event: { tenant: string; action: string; actor: { id: string }; time: string } }[] }>().data;
    expect(all.length).toBeGreaterThan(4);
    expect(all.every((e) => e.event.tenant === tenant.operation.id)).toBe(true);
    const created = (await get('/v1/audit/events?action=destination.created')).json<{ data: { event: { action: string } }[] }>().data;
    expect(created.length).toBeGreaterThan(0);
    expect(created.every((e) => e.event.action === 'destination.created')).toBe(true);
    const byActor = (await get('/v1/audit/events?actor=actor1&limit=1000')).json<{ data: { event: { actor: { id: string } } }[] }>().data;
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((e) => e.event.actor.id === 'actor1')).toBe(true);
    const january = (await get('/v1/audit/events?from=2026-01-01T00:00:00.000Z&to=2026-01-06T00:00:00.000Z')).json<{ data: { event: { time: string } }[] }>().data;
    expect(january.map((e) => e.event.time)).toEqual(['2026-01-02T00:00:00.000Z', '2026-01-05T00:00:00.000Z']);

    // Paging over a filter that this test's own requests (api.request events) do not grow.
    const keyEvents = all.filter((e) => e.event.action === 'api_key.created').map((e) => e.index);
    const paged: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { index: number }[]; next_cursor: string | null } = (await get(`/v1/audit/events?action=api_key.created&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      paged.push(...page.data.map((e) => e.index));
      cursor = page.next_cursor;
    } while (cursor);
    expect(paged).toEqual(keyEvents);
    expect((await get('/v1/audit/events?cursor=abc')).statusCode).toBe(400);
    expect((await get('/v1/audit/events?from=2026-02-01T00:00:00.000Z&to=2026-01-01T00:00:00.000Z')).statusCode).toBe(400);
  });

  const exportOf = (token: string, format: 'jsonl' | 'csv', from = '2026-01-01T00:00:00.000Z', to = '2030-01-01T00:00:00.000Z') =>
    app.inject({ method: 'POST', url: '/v1/audit/exports', headers: { authorization: `Bearer ${token}` }, payload: { from, to, format } });

  it('refuses exports below the operation plan, naming the plan', async () => {
    const res = await exportOf(tenant.starter.token, 'jsonl');
    expect(res.statusCode).toBe(403);
    expect(res.json<Problem>()).toMatchObject({ code: 'SP_ERR_AUTH_PLAN_REQUIRED', detail: expect.stringContaining('operation plan') });
  });

  it.each(['jsonl', 'csv'] as const)('exports the tenant\'s events as %s that verify offline, and fail after any one byte is changed', async (format) => {
    const res = await exportOf(tenant.operation.token, format, '2026-01-01T00:00:00.000Z', '2026-01-09T00:00:00.000Z');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="sealpost-audit-ten_[0-9A-Z]+-\d+\.(jsonl|csv)"$/);
    expect(String(res.headers['content-disposition']).endsWith(`.${format}"`)).toBe(true);
    const file = res.rawPayload;
    const verified = verifyAuditExport(file, logKey, { origin: ORIGIN });
    expect(verified.format).toBe(format);
    expect(verified.tenant).toBe(tenant.operation.id);
    const expected = (await indexesOf(tenant.operation.id)).filter((i) => i < 12);
    expect(verified.events.map((e) => e.index)).toEqual(expected.filter((i) => i % 3 === 1 && i < 8));
    expect(verified.events.every((e) => e.event.tenant === tenant.operation.id)).toBe(true);

    let accepted = 0;
    for (let at = 0; at < file.length; at += 1) {
      const changed = Buffer.from(file);
      changed[at] = (changed[at] as number) ^ 0x01;
      try {
        verifyAuditExport(changed, logKey);
        accepted += 1;
      } catch (err) {
        expect(isVerifyError(err), String(err)).toBe(true);
      }
    }
    expect(accepted).toBe(0);
  });

  it('records the export in the log, and includes that record in a later export', async () => {
    const exported = await handle.db.selectFrom('audit_events').select('event').where('action', '=', 'audit.exported').where('tenant_id', '=', tenant.operation.id).execute();
    expect(exported.length).toBeGreaterThanOrEqual(2);
    const res = await exportOf(tenant.operation.token, 'jsonl', '2020-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z');
    const actions = verifyAuditExport(res.rawPayload, logKey).events.map((e) => e.event.action);
    expect(actions).toContain('audit.exported');
    expect(actions).toContain('api.request');
  });
  it("neither lists nor proves another tenant's event whose tenant_id was edited to the caller's, and reports the edit", async () => {
    const theirs = (await indexesOf(tenant.starter.id))[0] as number;
    const set = (on: boolean) => (dialect === 'postgres' ? sql.raw(`alter table audit_events ${on ? 'enable' : 'disable'} trigger user`).execute(handle.db) : Promise.resolve());
    await set(false);
    await handle.db.updateTable('audit_events').set({ tenant_id: tenant.operation.id }).where('log_index', '=', theirs).execute();
    try {
      for (const url of ['/v1/audit/events?limit=1000', `/v1/audit/proof/inclusion?index=${theirs}`]) {
        const res = await get(url);
        expect([res.statusCode, res.json<Problem>().code]).toEqual([500, 'SP_ERR_AUDIT_LOG_INCONSISTENT']);
        expect(res.body).not.toContain(tenant.starter.id);
      }
    } finally {
      await handle.db.updateTable('audit_events').set({ tenant_id: tenant.starter.id }).where('log_index', '=', theirs).execute();
      await set(true);
    }
    expect((await get(`/v1/audit/proof/inclusion?index=${theirs}`)).statusCode).toBe(404);
  });
});
