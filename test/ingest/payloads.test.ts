import { readdirSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReceipt, type JwkSet } from '@sealpost/verify';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

async function count(app: TestApp, table: 'payloads' | 'attachments' | 'idempotency_keys'): Promise<number> {
  const result = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(app.context.database.db);
  return Number(result.rows[0]?.n);
}

function blobFiles(app: TestApp): string[] {
  const root = path.join(app.context.config.dataDir, 'blobs');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  return walk(root).filter((f) => !f.includes(`${path.sep}.tmp${path.sep}`));
}

describe.each(testDialects())('ingest API on %s', (dialect) => {
  let app: TestApp;
  let tenant: { tenant: string; apiKey: string };
  let other: { tenant: string; apiKey: string };

  beforeAll(async () => {
    app = await startTestApp(dialect, { env: { SEALPOST_MAX_BODY_BYTES: '4096', SEALPOST_MAX_ATTACHMENT_BYTES: '65536' } });
    tenant = await app.createTenant();
    other = await app.createTenant();
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (body: string | Buffer, headers: Record<string, string> = {}, token = tenant.apiKey) =>
    app.fetch('/v1/payloads', { method: 'POST', token, body, headers: { 'content-type': 'application/json', ...headers } });

  it('accepts a JSON payload with 202 only once it is stored, encrypted', async () => {
    const res = await post(JSON.stringify({ invoice: 'INV-4711', amount: 12.5, vendor: 'ACME Ünïcode' }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; receipt: Record<string, unknown> };
    expect(body.id).toMatch(/^msg_[0-9A-Z]{26}$/);
    // The 202 carries a signed `accepted` receipt that verifies against the tenant's published JWKS.
    const jwks = (await (await app.fetch(`/.well-known/sealpost/tenants/${tenant.tenant}/jwks.json`)).json()) as JwkSet;
    const verified = verifyReceipt(body.receipt, jwks, { tenant: tenant.tenant });
    expect(verified.receipt).toMatchObject({ kind: 'accepted', message_id: body.id, tenant: tenant.tenant });

    const row = await app.context.database.db.selectFrom('payloads').select(['envelope_sealed', 'tenant_id']).where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(row.tenant_id).toBe(tenant.tenant);
    expect(Buffer.from(row.envelope_sealed).includes(Buffer.from('INV-4711'))).toBe(false);

    const got = await app.fetch(`/v1/payloads/${body.id}`, { token: tenant.apiKey });
    expect(got.status).toBe(200);
    const read = (await got.json()) as { envelope: Record<string, unknown>; body_sha256: string };
    expect(read.envelope).toMatchObject({
      id: body.id,
      type: 'payload.received',
      tenant: tenant.tenant,
      source: { channel: 'https', api_key: expect.stringMatching(/^key_/) },
      data: { invoice: 'INV-4711', amount: 12.5, vendor: 'ACME Ünïcode' },
      attachments: [],
    });
    expect(read.body_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(verified.receipt.body_sha256).toBe(read.body_sha256);
  });

  it.each([
    ['invalid JSON', '{"a": 1,,}', 'application/json', 400, 'SP_ERR_INGEST_INVALID_JSON'],
    ['a JSON array instead of an object', '[1,2]', 'application/json', 400, 'SP_ERR_INGEST_INVALID_JSON'],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'application/json', 400, 'SP_ERR_INGEST_NOT_UTF8'],
    ['JSON nested 65 levels deep', `{"a":${'['.repeat(64)}${']'.repeat(64)}}`, 'application/json', 400, 'SP_ERR_INGEST_TOO_DEEP'],
    ['a body over the size limit', JSON.stringify({ a: 'x'.repeat(5000) }), 'application/json', 413, 'SP_ERR_HTTP_BODY_TOO_LARGE'],
    ['the wrong content type', 'invoice=1', 'text/plain', 415, 'SP_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses %s with a precise problem and stores nothing', async (_what, body, contentType, status, code) => {
    const before = await count(app, 'payloads');
    const res = await post(body, { 'content-type': contentType });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status, code });
    expect(await count(app, 'payloads')).toBe(before);
  });

  it('refuses an id of another kind with 400: /v1/payloads/:id takes msg_ ids, /v1/attachments/:id att_ ids', async () => {
    const body = (await (await post('{"n":1}')).json()) as { id: string };
    const ulidPart = body.id.slice('msg_'.length);
    for (const path of [`/v1/payloads/att_${ulidPart}`, `/v1/payloads/ten_${ulidPart}`, `/v1/attachments/msg_${ulidPart}`]) {
      expect((await app.fetch(path, { token: tenant.apiKey })).status, path).toBe(400);
    }
    expect((await app.fetch(`/v1/payloads/${body.id}`, { token: tenant.apiKey })).status).toBe(200);
  });

  it('accepts JSON nested exactly 64 levels deep', async () => {
    const res = await post(`{"a":${'['.repeat(63)}${']'.repeat(63)}}`);
    expect(res.status).toBe(202);
  });

  it('answers a repeated Idempotency-Key with the first answer, and a different body with 409', async () => {
    const before = await count(app, 'payloads');
    const first = await post('{"n":1}', { 'idempotency-key': 'order-77' });
    const again = await post('{"n":1}', { 'idempotency-key': 'order-77' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    const conflict = await post('{"n":2}', { 'idempotency-key': 'order-77' });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ code: 'SP_ERR_INGEST_IDEMPOTENCY_CONFLICT' });
    // Another tenant's identical key is its own.
    expect((await post('{"n":2}', { 'idempotency-key': 'order-77' }, other.apiKey)).status).toBe(202);
    expect(await count(app, 'payloads')).toBe(before + 2);
  });

  it('stores only a hash of the Idempotency-Key, and still replays it and refuses another body', async () => {
    const key = 'invoice-batch-secret-4242';
    const first = await post('{"n":3}', { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const rows = await app.context.database.db.selectFrom('idempotency_keys').selectAll().execute();
    const stored = rows.flatMap((r) => Object.values(r)).map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v)));
    expect(stored.join('\n')).not.toContain(key);
    const again = await post('{"n":3}', { 'idempotency-key': key });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    expect((await post('{"n":4}', { 'idempotency-key': key })).status).toBe(409);
  });

  it('stores concurrent requests with one Idempotency-Key once', async () => {
    const before = await count(app, 'payloads');
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => post('{"race":true}', { 'idempotency-key': 'race-1' })));
    const ids = new Set<string>();
    for (const res of answers) {
      expect(res.status).toBe(202);
      ids.add(((await res.json()) as { id: string }).id);
    }
    expect(ids.size).toBe(1);
    expect(await count(app, 'payloads')).toBe(before + 1);
  });

  it('accepts multipart uploads with attachments streamed, hashed and encrypted', async () => {
    const pdf = Buffer.alloc(40_000, 7);
    pdf.write('%PDF-1.7 secret-marker', 0);
    const csv = Buffer.from('sku,qty\nA-1,3\n');
    const form = new FormData();
    form.append('payload', JSON.stringify({ invoice: 'INV-9' }));
    form.append('invoice', new Blob([pdf], { type: 'application/pdf' }), 'invoice.pdf');
    form.append('lines', new Blob([csv], { type: 'text/csv' }), 'lines.csv');
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: form });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const read = (await (await app.fetch(`/v1/payloads/${id}`, { token: tenant.apiKey })).json()) as {
      envelope: { attachments: { id: string; filename: string; content_type: string; size: number; sha256: string; url: string }[] };
    };
    const { createHash } = await import('node:crypto');
    expect(read.envelope.attachments).toEqual([
      expect.objectContaining({ filename: 'invoice.pdf', content_type: 'application/pdf', size: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex') }),
      expect.objectContaining({ filename: 'lines.csv', content_type: 'text/csv', size: csv.length, sha256: createHash('sha256').update(csv).digest('hex') }),
    ]);
    const attachment = read.envelope.attachments[0]!;
    expect(attachment.url).toBe(`https://localhost/v1/attachments/${attachment.id}`);
    const download = await app.fetch(`/v1/attachments/${attachment.id}`, { token: tenant.apiKey });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await download.arrayBuffer()).equals(pdf)).toBe(true);
    // At rest the blob is ciphertext.
    for (const file of blobFiles(app)) expect((await import('node:fs')).readFileSync(file).includes(Buffer.from('secret-marker'))).toBe(false);
    // Another tenant cannot read it.
    expect((await app.fetch(`/v1/attachments/${attachment.id}`, { token: other.apiKey })).status).toBe(404);
  });

  it('refuses an oversized attachment with 413 and leaves no blob or row behind', async () => {
    const payloadsBefore = await count(app, 'payloads');
    const blobsBefore = blobFiles(app).length;
    const form = new FormData();
    form.append('payload', '{"big":true}');
    form.append('small', new Blob([Buffer.alloc(1000)]), 'small.bin');
    form.append('big', new Blob([Buffer.alloc(70_000)]), 'big.bin');
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: form });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'SP_ERR_INGEST_ATTACHMENT_TOO_LARGE' });
    expect(await count(app, 'payloads')).toBe(payloadsBefore);
    expect(blobFiles(app).length).toBe(blobsBefore);
  });

  it.each([
    ['no payload part', (f: FormData) => f.append('file', new Blob(['x']), 'x.txt')],
    ['an invalid payload part', (f: FormData) => f.append('payload', '{nope')],
    ['two payload parts', (f: FormData) => (f.append('payload', '{}'), f.append('payload', '{}'))],
  ])('refuses multipart with %s and stores nothing', async (_what, fill) => {
    const payloadsBefore = await count(app, 'payloads');
    const blobsBefore = blobFiles(app).length;
    const form = new FormData();
    fill(form);
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: form });
    expect(res.status).toBe(400);
    expect(await count(app, 'payloads')).toBe(payloadsBefore);
    expect(blobFiles(app).length).toBe(blobsBefore);
  });

  it('pages through payloads newest first with a cursor', async () => {
    const fresh = await app.createTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(((await (await post(`{"i":${i}}`, {}, fresh.apiKey)).json()) as { id: string }).id);
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 5; page++) {
      const res = await app.fetch(`/v1/payloads?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: fresh.apiKey });
      const body = (await res.json()) as { data: { id: string }[]; next_cursor: string | null };
      seen.push(...body.data.map((d) => d.id));
      if (!body.next_cursor) break;
      cursor = body.next_cursor;
    }
    // Newest first by id. Ids are ULIDs: the time part orders them by millisecond, but two made in
    // the same millisecond sort at random, so compare with the ids' own order.
    expect(seen).toEqual([...ids].sort().reverse());
    expect(seen.map((id) => id.slice(0, 'msg_'.length + 10))).toEqual([...ids].reverse().map((id) => id.slice(0, 'msg_'.length + 10)));
  });

  it('filters the list by type, channel, time range and delivery status, within the tenant only', async () => {
    const fresh = await app.createTenant();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(((await (await post(`{"i":${i}}`, {}, fresh.apiKey)).json()) as { id: string }).id);
    const [a, b, c, d] = ids as [string, string, string, string];
    const db = app.context.database.db;
    // Fixtures the API has no call for: an e-mail payload, old arrival times, delivery states.
    await db.updateTable('payloads').set({ type: 'email.received', channel: 'smtp' }).where('id', '=', b).execute();
    await db.updateTable('payloads').set({ received_at: Date.UTC(2026, 0, 1) }).where('id', 'in', [a, b]).execute();
    const now = Date.now();
    await db.insertInto('destinations').values({ id: 'dst_01JDG3ZZZZZZZZZZZZZZZZZZZZ', tenant_id: fresh.tenant, config_sealed: Buffer.from('x'), event_types: null, enabled: 1, timeout_ms: 1000, max_concurrency: 1, failing_since: null, disabled_reason: null, created_at: now, updated_at: now, deleted_at: null }).execute();
    const delivery = (id: string, payload: string, status: 'succeeded' | 'dead') => ({ id, tenant_id: fresh.tenant, payload_id: payload, destination_id: 'dst_01JDG3ZZZZZZZZZZZZZZZZZZZZ', status, attempts: 1, next_attempt_at: now, lease_owner: null, lease_expires_at: null, last_status_code: null, last_error: null, created_at: now, updated_at: now, completed_at: null });
    await db.insertInto('deliveries').values([delivery('dlv_01JDG3ZZZZZZZZZZZZZZZZZZZ1', c, 'dead'), delivery('dlv_01JDG3ZZZZZZZZZZZZZZZZZZZ2', d, 'succeeded')]).execute();

    const list = async (query: string, token = fresh.apiKey): Promise<string[]> => {
      const res = await app.fetch(`/v1/payloads?${query}`, { token });
      expect(res.status, query).toBe(200);
      return ((await res.json()) as { data: { id: string }[] }).data.map((p) => p.id).sort();
    };
    expect(await list('type=email.received')).toEqual([b]);
    expect(await list('type=payload.received')).toEqual([a, c, d].sort());
    expect(await list('channel=smtp')).toEqual([b]);
    expect(await list('received_before=2026-02-01T00:00:00Z')).toEqual([a, b].sort());
    expect(await list('received_from=2026-02-01T00:00:00Z')).toEqual([c, d].sort());
    expect(await list('received_from=2025-12-31T00:00:00Z&received_before=2026-01-01T00:00:00.001Z&channel=https')).toEqual([a]);
    expect(await list('delivery_status=dead')).toEqual([c]);
    expect(await list('delivery_status=succeeded&type=payload.received')).toEqual([d]);
    expect(await list('delivery_status=pending')).toEqual([]);
    // Another tenant's filters see none of these payloads.
    expect(await list('delivery_status=dead', tenant.apiKey)).not.toContain(c);
    expect(await list('received_before=2026-02-01T00:00:00Z', tenant.apiKey)).toEqual([]);
  });

  it('refuses a malformed filter with 400', async () => {
    for (const query of ['type=other', 'channel=ftp', 'received_from=yesterday', 'delivery_status=lost', 'received_before=2026-13-45T00:00:00Z']) {
      const res = await app.fetch(`/v1/payloads?${query}`, { token: tenant.apiKey });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_HTTP_BAD_REQUEST');
    }
  });

  it("refuses another tenant's key: 404 for foreign ids, never their data", async () => {
    const { id } = (await (await post('{"private":true}')).json()) as { id: string };
    const res = await app.fetch(`/v1/payloads/${id}`, { token: other.apiKey });
    expect(res.status).toBe(404);
    const list = (await (await app.fetch('/v1/payloads', { token: other.apiKey })).json()) as { data: { id: string }[] };
    expect(list.data.map((d) => d.id)).not.toContain(id);
  });
});
