import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

interface RequestEvent {
  action: string;
  resource?: string;
  request: { method: string; route: string; status: number; request_id: string };
}

describe.each(testDialects())('auditing ingest requests on %s', { timeout: 60_000 }, (dialect) => {
  let app: TestApp;
  let apiKey: string;
  beforeAll(async () => {
    app = await startTestApp(dialect);
    ({ apiKey } = await app.createTenant());
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (body: string, requestId: string, extra: Record<string, string> = {}) =>
    app.fetch('/v1/payloads', { method: 'POST', token: apiKey, body, headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...extra } });

  /** The api.request events of one request, waiting (briefly) for those written after the response. */
  async function eventsOf(requestId: string, expected: number): Promise<(RequestEvent & { index: number })[]> {
    for (let i = 0; ; i++) {
      const rows = await app.context.database.db.selectFrom('audit_events').select(['log_index', 'event']).where('action', '=', 'api.request').orderBy('log_index').execute();
      const mine = rows
        .map((r) => ({ index: Number(r.log_index), ...(JSON.parse(r.event!) as RequestEvent) }))
        .filter((e) => e.request.request_id === requestId);
      if (mine.length >= expected || i >= 200) return mine;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('records an accepted payload in the ingest transaction, naming the payload, exactly once', async () => {
    const res = await post('{"invoice":1}', 'req-ingest-1');
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    // Written before the 202 was sent, in the same transaction as the payload: no waiting.
    const events = await eventsOf('req-ingest-1', 0);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'api.request', resource: id, request: { method: 'POST', route: '/v1/payloads', status: 202 } });
    // Its transaction also logged the accepted receipt, just before it.
    const receiptEvent = await app.context.database.db.selectFrom('audit_events').select('log_index').where('action', '=', 'receipt.issued').where('log_index', '=', events[0]!.index - 1).executeTakeFirst();
    expect(receiptEvent).toBeDefined();
    // Nothing more arrives later from the after-response hook.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await eventsOf('req-ingest-1', 0)).toHaveLength(1);
  });

  it('still records refused and replayed ingests once, after the response', async () => {
    expect((await post('{"broken', 'req-ingest-bad')).status).toBe(400);
    const refused = await eventsOf('req-ingest-bad', 1);
    expect(refused.map((e) => [e.request.status, e.resource])).toEqual([[400, undefined]]);

    expect((await post('{"n":2}', 'req-ingest-first', { 'idempotency-key': 'k-1' })).status).toBe(202);
    const replay = await post('{"n":2}', 'req-ingest-replay', { 'idempotency-key': 'k-1' });
    expect([replay.status, replay.headers.get('idempotent-replayed')]).toEqual([202, 'true']);
    const replayed = await eventsOf('req-ingest-replay', 1);
    // The replay stored nothing, so it had no transaction: its event comes from the response hook.
    expect(replayed.map((e) => [e.request.status, e.resource])).toEqual([[202, undefined]]);
    expect(await eventsOf('req-ingest-first', 1)).toHaveLength(1);
  });
});
