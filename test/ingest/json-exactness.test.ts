import { sql } from 'kysely';
import { FormData } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

async function count(app: TestApp, table: 'payloads' | 'attachments'): Promise<number> {
  const result = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(app.context.database.db);
  return Number(result.rows[0]?.n);
}

describe.each(testDialects())('ingest refuses JSON it cannot sign exactly, on %s', (dialect) => {
  let app: TestApp;
  let tenant: { tenant: string; apiKey: string };

  beforeAll(async () => {
    app = await startTestApp(dialect, { env: { SEALPOST_MAX_BODY_BYTES: '4096', SEALPOST_MAX_ATTACHMENT_BYTES: '1048576', SEALPOST_RATE_LIMIT_PER_KEY: '1000' } });
    tenant = await app.createTenant();
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (body: string) => app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body, headers: { 'content-type': 'application/json' } });

  const refused: [string, string, string][] = [
    ['a lone surrogate', '{"note":"\\ud800"}', '/note'],
    ['a lone surrogate in a member name', '{"a":{"\\udc00x":1}}', '/a/\udc00x'],
    ['a number beyond double range', '{"n":1e400}', '/n'],
    ['an integer beyond 2^53', '{"order":{"id":12345678901234567890}}', '/order/id'],
    ['an integer just past 2^53 in an array', '{"items":[{"x":1},{"x":-9007199254740993}]}', '/items/1/x'],
    ['a repeated member name', '{"amount":1,"amount":2}', '/amount'],
    ['a repeated name whose escapes differ', '{"a/b~":1,"a\\/b~":2}', '/a~1b~0'],
  ];
  it.each(refused)('refuses %s with 400 naming the member, storing nothing', async (_what, body, pointer) => {
    const before = await count(app, 'payloads');
    const res = await post(body);
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; detail: string };
    expect(problem.code).toBe('SP_ERR_INGEST_JSON_UNREPRESENTABLE');
    expect(problem.detail).toContain(`"${pointer}"`);
    expect(await count(app, 'payloads')).toBe(before);
  });

  it('accepts what it can sign exactly: safe integers, large floats, surrogate pairs, repeated names in different objects', async () => {
    const res = await post('{"max":9007199254740991,"min":-9007199254740991,"f":1.5e300,"emoji":"\\ud83d\\ude00","a":{"x":1},"b":{"x":1},"s":"\\"x\\":1,\\"x\\":2"}');
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const got = (await (await app.fetch(`/v1/payloads/${id}`, { token: tenant.apiKey })).json()) as { envelope: { data: Record<string, unknown> } };
    expect(got.envelope.data).toMatchObject({ max: 9007199254740991, f: 1.5e300, emoji: '😀' });
  });

  it('applies the JSON limit to a payload sent as a multipart file part', async () => {
    const before = await count(app, 'attachments');
    const form = new FormData();
    form.append('file', new Blob([Buffer.alloc(2048, 1)]), 'first.bin');
    form.append('payload', new Blob([JSON.stringify({ pad: 'x'.repeat(20_000) })], { type: 'application/json' }), 'payload.json');
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: form });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_HTTP_BODY_TOO_LARGE');
    expect(await count(app, 'attachments')).toBe(before);
    // The server is still healthy and takes the next upload.
    const ok = new FormData();
    ok.append('payload', new Blob([JSON.stringify({ small: true })], { type: 'application/json' }), 'payload.json');
    expect((await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body: ok })).status).toBe(202);
  });

  it('stores a content type that cannot be a header as application/octet-stream, and the download works', async () => {
    // Written by hand: FormData would drop a non-ASCII type before it reached the wire.
    const boundary = 'sealpost-test-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="payload"\r\n\r\n{"invoice":"INV-1"}\r\n`),
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="cv.pdf"\r\ncontent-type: application/pdf€\r\n\r\n`, 'utf8'),
      Buffer.from('%PDF-1.7'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await app.fetch('/v1/payloads', { method: 'POST', token: tenant.apiKey, body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const got = (await (await app.fetch(`/v1/payloads/${id}`, { token: tenant.apiKey })).json()) as { envelope: { attachments: { id: string; content_type: string }[] } };
    const [attachment] = got.envelope.attachments;
    expect(attachment!.content_type).toBe('application/octet-stream');
    const download = await app.fetch(`/v1/attachments/${attachment!.id}`, { token: tenant.apiKey });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe('%PDF-1.7');
  });
});
