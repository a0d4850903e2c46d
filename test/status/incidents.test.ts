import { createHash, verify } from 'node:crypto';
import xmlParser from 'fast-xml-parser';
import { canonicalize, ed25519PublicKey, parseVerifierKey } from '@sealpost/verify';
import type { Response } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import type { TestIdp } from '../identity/sso/oidc-test-idp.js';
import { until } from '../support/poll.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';
import { asStaff, startStaffIdp, staffSignIn, type StaffBrowser } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const CLI = { type: 'system', id: 'test' } as const;
type Signed = Record<string, unknown> & { sig: { alg: string; kid: string; value: string } };

/** What a customer does with @sealpost/verify's functions: the log key, RFC 8785, Ed25519. */
function verifies(document: Signed, verifierKey: string): boolean {
  const { sig, ...unsigned } = document;
  const key = ed25519PublicKey(parseVerifierKey(verifierKey).publicKey);
  return sig.alg === 'Ed25519' && verify(null, Buffer.from(canonicalize(unsigned)), key, Buffer.from(sig.value, 'base64url'));
}

describe.each(testDialects())('status incidents on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let idp: TestIdp;
  let ada: StaffBrowser;
  let tenant: { tenant: string; apiKey: string };
  let verifierKey = '';

  beforeAll(async () => {
    const staffIdp = await startStaffIdp();
    idp = staffIdp.idp;
    app = await startTestApp(dialect, { env: staffIdp.env });
    const person = { sub: 'ada', email: 'ada@ops.example', key: new SoftwareAuthenticator('localhost', 'https://localhost'), enrolmentCode: '' };
    person.enrolmentCode = (await app.context.staff.signIn.add(person.email, CLI)).enrolmentCode;
    ada = await staffSignIn(app.fetch, idp, person);
    tenant = await app.createTenant();
    verifierKey = (await (await app.fetch('/.well-known/sealpost-log-key')).text()).trim();
  });
  afterAll(async () => {
    await app?.close();
    await idp?.close();
  });

  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = asStaff(ada)): Promise<Response> =>
    app.fetch(path, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = async <T = Record<string, unknown>>(res: Response, status: number): Promise<T> => {
    const text = await res.text();
    expect(res.status, text).toBe(status);
    return JSON.parse(text) as T;
  };
  const codeOf = async (res: Response): Promise<string> => ((await res.json()) as { code: string }).code;
  async function statusEvents(): Promise<AuditEvent[]> {
    const rows = await app.context.database.db.selectFrom('audit_events').select('event').orderBy('log_index').execute();
    return rows.flatMap((r) => (r.event === null ? [] : [JSON.parse(r.event) as AuditEvent])).filter((e) => e.action.startsWith('status.'));
  }
  const open = (customerVisible: boolean, title = 'Webhook deliveries delayed') =>
    send('POST', '/staff/v1/status/incidents', { title, impact: 'major', components: ['delivery'], customer_visible: customerVisible, message: 'We are looking into delayed deliveries.' });

  it('refuses a tenant API key on the staff status routes', async () => {
    const res = await send('POST', '/staff/v1/status/incidents', { title: 'x', impact: 'minor', components: ['delivery'], customer_visible: false, message: 'x' }, { authorization: `Bearer ${tenant.apiKey}` });
    expect([401, 403]).toContain(res.status);
    expect(await app.context.database.db.selectFrom('status_incidents').select('id').execute()).toEqual([]);
  });

  it('refuses an unknown component or impact with 400 and writes nothing', async () => {
    const res = await send('POST', '/staff/v1/status/incidents', { title: 'x', impact: 'minor', components: ['database'], customer_visible: false, message: 'x' });
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe('SP_ERR_HTTP_BAD_REQUEST');
    await expect(app.context.status.incidents.open(CLI, { title: 'x', impact: 'apocalyptic', components: ['delivery'], customerVisible: false, message: 'x' })).rejects.toMatchObject({ code: 'SP_ERR_STATUS_INPUT_INVALID' });
    expect(await app.context.database.db.selectFrom('status_incidents').select('id').execute()).toEqual([]);
  });

  it('streams an update to a live client promptly after staff post it', async () => {
    const res = await app.fetch('/status/events');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    let reading = true;
    const pump = (async () => {
      while (reading) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += Buffer.from(chunk.value).toString('utf8');
      }
    })();
    await until(() => text.includes('event: status'), { timeoutMs: 10_000 });
    const opened = await json<{ id: string }>(await open(false, 'Live update check'), 201);
    await json(await send('POST', `/staff/v1/status/incidents/${opened.id}/updates`, { state: 'identified', message: 'A stuck queue on one worker.' }), 201);
    // Arrival, with a generous deadline: no assertion on how fast.
    await until(() => text.includes('A stuck queue on one worker.'), { timeoutMs: 10_000, explain: () => text.slice(-500) });
    reading = false;
    await reader.cancel();
    await pump.catch(() => {});
    await json(await send('POST', `/staff/v1/status/incidents/${opened.id}/updates`, { state: 'resolved', message: 'Fixed.' }), 201);
  });

  it('moves an incident only along investigating → identified → monitoring → resolved', async () => {
    const incident = await json<{ id: string; state: string }>(await open(false), 201);
    expect(incident.state).toBe('investigating');
    await json(await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'monitoring', message: 'A fix is out.' }), 201);
    const back = await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'investigating', message: 'Back to square one.' });
    expect(back.status).toBe(409);
    expect(await codeOf(back)).toBe('SP_ERR_STATUS_INCIDENT_STATE');
    // A fix that did not hold: monitoring may fall back to identified.
    await json(await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'identified', message: 'The fix did not hold.' }), 201);
    await json(await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'resolved', message: 'Resolved.' }), 201);
    const after = await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'monitoring', message: 'More?' });
    expect(await codeOf(after)).toBe('SP_ERR_STATUS_INCIDENT_STATE');
    const updates = await app.context.database.db.selectFrom('status_updates').select('state').where('incident_id', '=', incident.id).orderBy('posted_at').orderBy('id').execute();
    expect(updates.map((u) => u.state)).toEqual(['investigating', 'monitoring', 'identified', 'resolved']);
  });

  it('refuses to resolve a customer-visible incident without a postmortem, then publishes one signed and resolves', async () => {
    const incident = await json<{ id: string }>(await open(true, 'Deliveries failed for 20 minutes'), 201);
    const early = await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'resolved', message: 'Done.' });
    expect(early.status).toBe(409);
    expect(await codeOf(early)).toBe('SP_ERR_STATUS_POSTMORTEM_REQUIRED');
    const markdown = [
      '# What happened',
      'A worker lost its database connection. <script>alert(1)</script>',
      '<img src=x onerror="alert(2)">',
      '[click me](javascript:alert(3)) and [runbook](https://example.com/runbook)',
    ].join('\n\n');
    const postmortem = await json<Signed>(await send('PUT', `/staff/v1/status/incidents/${incident.id}/postmortem`, { root_cause: 'Connection pool exhausted by a leaked transaction.', markdown }), 201);
    expect(verifies(postmortem, verifierKey)).toBe(true);
    const again = await send('PUT', `/staff/v1/status/incidents/${incident.id}/postmortem`, { root_cause: 'Something else entirely.', markdown: 'rewritten' });
    expect(await codeOf(again)).toBe('SP_ERR_STATUS_POSTMORTEM_EXISTS');
    await json(await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'resolved', message: 'Resolved; see the postmortem.' }), 201);

    // The rendered page: no raw HTML, no script, no handler, no javascript: link.
    const page = await app.fetch(`/status/incidents/${incident.id}/postmortem`);
    expect(page.status).toBe(200);
    const body = await page.text();
    const main = body.slice(body.indexOf('<main'));
    expect(main).not.toMatch(/<script/i);
    expect(main).not.toMatch(/<img/i);
    expect(main).not.toMatch(/href="javascript:/i);
    expect(main).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(main).toContain('<a href="https://example.com/runbook" rel="nofollow noopener noreferrer">runbook</a>');
    expect(main).toContain('Connection pool exhausted by a leaked transaction.');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const signed = await json<Signed>(await app.fetch(`/status/incidents/${incident.id}/postmortem.json`), 200);
    expect(signed).toEqual(postmortem);
  });

  it('lets staff waive the postmortem with a reason, in the audit log', async () => {
    const incident = await json<{ id: string }>(await open(true, 'Console sign-in slow'), 201);
    const short = await send('POST', `/staff/v1/status/incidents/${incident.id}/postmortem-waiver`, { reason: 'meh' });
    expect(short.status).toBe(400);
    const reason = 'Third-party IdP outage; their postmortem is linked in the updates.';
    await json(await send('POST', `/staff/v1/status/incidents/${incident.id}/postmortem-waiver`, { reason }), 200);
    await json(await send('POST', `/staff/v1/status/incidents/${incident.id}/updates`, { state: 'resolved', message: 'Recovered.' }), 201);
    const waived = (await statusEvents()).find((e) => e.action === 'status.postmortem_waived' && e.resource === incident.id);
    expect(waived).toMatchObject({ tenant: null, actor: { type: 'staff' }, details: { reason } });
  });

  it('publishes every update signed with the log key in status.json and the feed, each hash in the audit log', async () => {
    const status = await json<{ incidents: { resolved: { id: string; updates: Signed[]; postmortem_url: string | null }[] } }>(await app.fetch('/status.json'), 200);
    const updates = status.incidents.resolved.flatMap((i) => i.updates);
    expect(updates.length).toBeGreaterThanOrEqual(10);
    expect(updates.every((u) => verifies(u, verifierKey))).toBe(true);
    // A changed word breaks the signature.
    expect(verifies({ ...updates[0]!, message: `${String(updates[0]!.message)}!` }, verifierKey)).toBe(false);
    // The audit log committed to each exact document when it was posted.
    const logged = new Set((await statusEvents()).filter((e) => e.action === 'status.incident_opened' || e.action === 'status.incident_updated').map((e) => e.details?.document_sha256));
    for (const u of updates) expect(logged.has(createHash('sha256').update(canonicalize(u)).digest('hex'))).toBe(true);
    expect(status.incidents.resolved.some((i) => i.postmortem_url !== null)).toBe(true);

    const feed = await app.fetch('/status/feed.atom');
    expect(feed.headers.get('content-type')).toMatch(/^application\/atom\+xml/);
    const text = await feed.text();
    // Well-formed XML, then the Atom structure: id, updated, one entry per update with its signed document.
    expect(xmlParser.validate(text)).toBe(true);
    type Entry = { id: string; updated: string; title: string; 'sp:signed': string };
    const parsed = xmlParser.parse(text, {
      ignoreAttributes: false,
      arrayMode: /^entry$/,
      parseNodeValue: false,
      // This parser leaves entities as they are: decode the five XML ones.
      tagValueProcessor: (value: string) => value.replace(/&(lt|gt|quot|#39|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!),
    }) as { feed: { '@_xmlns': string; id: string; updated: string; entry?: Entry[] } };
    expect(parsed.feed['@_xmlns']).toBe('http://www.w3.org/2005/Atom');
    expect(parsed.feed.id).toBe('https://localhost/status');
    expect(Date.parse(parsed.feed.updated)).not.toBeNaN();
    const entries = parsed.feed.entry ?? [];
    expect(entries.length).toBe(updates.length);
    for (const entry of entries) {
      expect(entry.id).toMatch(/^https:\/\/localhost\/status#stu_/);
      expect(Date.parse(entry.updated)).not.toBeNaN();
      expect(verifies(JSON.parse(entry['sp:signed']) as Signed, verifierKey)).toBe(true);
    }
  });
});
