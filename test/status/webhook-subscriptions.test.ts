import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, type JwkSet } from '@sealpost/verify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SCHEDULED_JOBS, startScheduler, type Scheduler } from '../../src/app/scheduler.js';
import { startWorker } from '../../src/app/worker.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const CLI = { type: 'system', id: 'test' } as const;

interface Received {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly envelope: { type: string; tenant: string; data: Record<string, unknown> };
}

describe.each(testDialects())('status webhook subscriptions on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let receiver: http.Server;
  let base: string;
  let worker: { stop(): Promise<void> };
  let scheduler: Scheduler;
  const received: Received[] = [];
  const at = (path: string): Received[] => received.filter((r) => r.path === path);
  // The rate limit's clock: each test starts in a fresh minute, so none meets the per-client limit.
  let offset = 0;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ path: req.url ?? '', headers: req.headers as Record<string, string>, body, envelope: JSON.parse(body) as Received['envelope'] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    // Only 127.0.0.1 is allowed (the receiver): other loopback addresses stay refused.
    app = await startTestApp(dialect, { env: { SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true' }, api: { now: () => Date.now() + offset } });
    worker = startWorker(app.context, { idlePollMs: 50 });
    scheduler = startScheduler(app.context, SCHEDULED_JOBS.filter((job) => job.name === 'status-notices'));
  });
  beforeEach(() => {
    offset += 60_000;
  });
  afterAll(async () => {
    await scheduler?.stop();
    await worker?.stop();
    await app?.context.status.webhooks.settled();
    await app?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  const post = (path: string, body: unknown) => app.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const subscribe = (url: string) => post('/status/subscriptions/webhook', { url });
  const deploymentJwks = async (): Promise<JwkSet> => (await (await app.fetch(`/.well-known/sealpost/tenants/${app.context.deploymentTenant.id}/jwks.json`)).json()) as JwkSet;
  const verified = async (r: Received) => verifyWebhook({ headers: r.headers, body: r.body, jwks: await deploymentJwks(), tenant: app.context.deploymentTenant.id });
  async function confirmationAt(path: string): Promise<string> {
    await until(() => at(path).length > 0, { timeoutMs: 20_000 });
    const event = at(path)[0]!;
    expect((await verified(event)).envelope).toMatchObject({ type: 'status.subscription_confirmation', tenant: app.context.deploymentTenant.id });
    return String(event.envelope.data.token);
  }

  it('sends status notices, signed with the deployment tenant\'s key, only to a URL that confirmed, and never another payload of that tenant', async () => {
    // The security team's destination takes every payload of the deployment tenant (bounty reports).
    await app.context.destinations.create(app.context.deploymentTenant.id, { url: `${base}/security` }, CLI);
    expect((await subscribe(`${base}/hooks/confirmed`)).status).toBe(202);
    expect((await subscribe(`${base}/hooks/pending`)).status).toBe(202);
    const token = await confirmationAt('/hooks/confirmed');
    await confirmationAt('/hooks/pending');
    // The token is not stored: only its hash.
    const rows = await app.context.database.db.selectFrom('status_webhook_subscribers').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(token);

    const confirmed = await post('/status/subscriptions/webhook/confirm', { token });
    expect(confirmed.status).toBe(200);
    const { unsubscribe_token: unsubscribe } = (await confirmed.json()) as { unsubscribe_token: string };
    // Single use.
    expect((await post('/status/subscriptions/webhook/confirm', { token })).status).toBe(400);

    // A bounty report (mail) reaches the deployment tenant while a webhook subscriber is confirmed.
    const report = await app.context.payloads.ingest({
      tenantId: app.context.deploymentTenant.id,
      type: 'email.received',
      source: { channel: 'smtp', remote_ip: '192.0.2.7', tls: 'TLSv1.3', auth: { dmarc: 'pass' } },
      data: { subject: 'XSS in the console', text: 'steps…' },
      attachments: [],
    });
    const { incident } = await app.context.status.incidents.open(CLI, { title: 'Deliveries delayed', impact: 'major', components: ['delivery'], customerVisible: false, message: 'We are investigating delayed deliveries.' });
    await until(() => at('/hooks/confirmed').some((r) => r.envelope.type === 'status.notice'), { timeoutMs: 60_000 });
    await until(() => at('/security').length >= 2, { timeoutMs: 20_000 });

    const notice = at('/hooks/confirmed').find((r) => r.envelope.type === 'status.notice')!;
    const { envelope } = await verified(notice);
    expect(envelope).toMatchObject({ type: 'status.notice', tenant: app.context.deploymentTenant.id, source: { channel: 'system', origin: 'status-page' } });
    expect(envelope.data).toMatchObject({ incident: incident.id, message: 'We are investigating delayed deliveries.' });
    // The body is the update exactly as status.json publishes it (with its log-key signature).
    const status = (await (await app.fetch('/status.json')).json()) as { incidents: { open: { id: string; updates: Record<string, unknown>[] }[] } };
    const published = status.incidents.open.find((i) => i.id === incident.id)!.updates;
    expect(published).toContainEqual(envelope.data);
    expect(notice.headers['status-unsubscribe-token']).toBe(unsubscribe);

    // The subscriber's destination never had a delivery of the bounty report; the pending URL has no destination at all.
    const deliveries = await app.context.database.db.selectFrom('deliveries').select(['payload_id', 'destination_id']).where('tenant_id', '=', app.context.deploymentTenant.id).execute();
    const securityDeliveries = deliveries.filter((d) => d.payload_id === report.id);
    expect(securityDeliveries).toHaveLength(1);
    expect(at('/hooks/confirmed').map((r) => r.envelope.type)).toEqual(['status.subscription_confirmation', 'status.notice']);
    expect(at('/hooks/pending').map((r) => r.envelope.type)).toEqual(['status.subscription_confirmation']);
    expect(at('/security').map((r) => r.envelope.type).sort()).toEqual(['email.received', 'status.notice']);

    // Unsubscribing deletes the destination: the next update is not sent to it.
    expect((await post('/status/subscriptions/webhook/unsubscribe', { token: unsubscribe })).status).toBe(200);
    expect((await post('/status/subscriptions/webhook/unsubscribe', { token: unsubscribe })).status).toBe(400);
    await app.context.status.incidents.postUpdate(CLI, incident.id, { state: 'resolved', message: 'Resolved.' });
    await until(() => at('/security').length >= 3, { timeoutMs: 60_000 });
    expect(at('/hooks/confirmed')).toHaveLength(2);
    // No delivery of the update waits for the deleted destination either (the worker settles the security team's).
    const pending = () => app.context.database.db.selectFrom('deliveries').select('destination_id').where('tenant_id', '=', app.context.deploymentTenant.id).where('status', '=', 'pending').execute();
    await until(async () => (await pending()).length === 0, { timeoutMs: 20_000, explain: async () => JSON.stringify(await pending()) });
  });

  it('answers the same for a new, pending or confirmed URL', async () => {
    const first = await subscribe(`${base}/hooks/same`);
    const again = await subscribe(`${base}/hooks/same`);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual(await first.json());
  });

  it('limits subscriptions per client, so the route cannot be turned into a request cannon', async () => {
    // The limit counts per wall-clock minute: start just after a window opens, so all four land in it.
    offset += 60_000 - ((Date.now() + offset) % 60_000) + 100;
    expect((await subscribe(`${base}/hooks/limited-0`)).status).toBe(202);
    expect((await subscribe(`${base}/hooks/limited-1`)).status).toBe(202);
    expect((await subscribe(`${base}/hooks/limited-2`)).status).toBe(202);
    const limited = await subscribe(`${base}/hooks/limited-3`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { code: string }).code).toBe('SP_ERR_HTTP_RATE_LIMITED');
    await app.context.status.webhooks.settled();
    expect(at('/hooks/limited-3')).toEqual([]);
  });

  it.each([
    ['a loopback address not allowed', 'http://127.0.0.2/hook', 'SP_ERR_DESTINATION_ADDRESS_REFUSED'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data', 'SP_ERR_DESTINATION_ADDRESS_REFUSED'],
    ['a URL with user:password', 'https://user:pw@receiver.example/hook', 'SP_ERR_DESTINATION_URL_INVALID'],
    ['a URL that is not one', 'not a url', 'SP_ERR_DESTINATION_URL_INVALID'],
  ])('refuses a subscription to %s', async (_name, url, code) => {
    const before = await app.context.database.db.selectFrom('status_webhook_subscribers').select('id').execute();
    const res = await subscribe(url);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe(code);
    expect(await app.context.database.db.selectFrom('status_webhook_subscribers').select('id').execute()).toEqual(before);
  });

  it("refuses a subscription to this deployment's own API", async () => {
    const res = await subscribe(`${app.url}/v1/payloads`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_DESTINATION_LOOP_REFUSED');
  });

  it('refuses an unknown, malformed or expired confirmation token', async () => {
    const unknown = await post('/status/subscriptions/webhook/confirm', { token: 'A'.repeat(43) });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { code: string }).code).toBe('SP_ERR_STATUS_WEBHOOK_TOKEN_INVALID');
    expect((await post('/status/subscriptions/webhook/confirm', { token: 'short' })).status).toBe(400);

    expect((await subscribe(`${base}/hooks/expired`)).status).toBe(202);
    const token = await confirmationAt('/hooks/expired');
    // 24 hours later: the token has expired.
    await app.context.database.db.updateTable('status_webhook_subscribers').set({ confirm_expires_at: Date.now() - 1 }).where('confirm_token_sha256', 'is not', null).execute();
    const destinations = () => app.context.database.db.selectFrom('destinations').select('id').where('tenant_id', '=', app.context.deploymentTenant.id).execute();
    const before = await destinations();
    const expired = await post('/status/subscriptions/webhook/confirm', { token });
    expect(expired.status).toBe(400);
    expect(((await expired.json()) as { code: string }).code).toBe('SP_ERR_STATUS_WEBHOOK_TOKEN_INVALID');
    // Nothing half-done: no destination was made for it.
    expect(await destinations()).toEqual(before);
    // The expired subscription is forgotten at the next run of the notices job.
    const pendingRows = () => app.context.database.db.selectFrom('status_webhook_subscribers').select('id').where('confirmed_at', 'is', null).where('confirm_expires_at', '<=', Date.now()).execute();
    await until(async () => (await pendingRows()).length === 0, { timeoutMs: 30_000 });
  });
});

describe('a full list of status webhook subscribers', { timeout: 120_000 }, () => {
  let app: TestApp;
  let receiver: http.Server;
  let base: string;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['envelope'];
        if (envelope.type === 'status.subscription_confirmation') tokens.set(req.url ?? '', String(envelope.data.token));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    // 11 destinations per tenant: 10 stay the deployment team's, so one webhook subscriber fits.
    app = await startTestApp('sqlite', {
      env: { SEALPOST_ALLOW_PRIVATE_DESTINATIONS: '127.0.0.1/32', SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true', SEALPOST_MAX_DESTINATIONS_PER_TENANT: '11' },
    });
  });
  afterAll(async () => {
    await app?.context.status.webhooks.settled();
    await app?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  const post = (path: string, body: unknown) => app.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it("refuses a confirmation past the bound, so subscribers never crowd out the team's destinations nor the fan-out cap", async () => {
    for (const path of ['/first', '/second']) expect((await post('/status/subscriptions/webhook', { url: `${base}${path}` })).status).toBe(202);
    await until(() => tokens.has('/first') && tokens.has('/second'), { timeoutMs: 20_000 });
    expect((await post('/status/subscriptions/webhook/confirm', { token: tokens.get('/first') })).status).toBe(200);
    const refused = await post('/status/subscriptions/webhook/confirm', { token: tokens.get('/second') });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { code: string }).code).toBe('SP_ERR_STATUS_WEBHOOK_FULL');
    // The team still has its ten destinations' room.
    for (let i = 0; i < 10; i++) await app.context.destinations.create(app.context.deploymentTenant.id, { url: `${base}/team-${i}` }, CLI);
    const rows = await app.context.database.db.selectFrom('destinations').select('id').where('tenant_id', '=', app.context.deploymentTenant.id).where('deleted_at', 'is', null).execute();
    expect(rows).toHaveLength(11);
  });
});
