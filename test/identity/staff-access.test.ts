import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'undici';
import type { TestIdp } from './sso/oidc-test-idp.js';
import path from 'node:path';
import { cliEnvFor } from '../audit/audit-test-support.js';
import { runCli } from '../support/cli.js';
import { startMailCapture, type MailCapture } from '../support/mail-capture.js';
import { TestClock } from '../support/operators.js';
import { until } from '../support/poll.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';
import { asStaff, startStaffIdp, staffOidcLogin, staffSignIn, staffWebauthn, type StaffBrowser } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

interface Grant {
  id: string;
  tenant: string;
  scope: string;
  state: string;
  break_glass: boolean;
  reason: string;
  requester: { id: string; email: string | null };
  approver: { id: string; email: string | null } | null;
  expires_at: string | null;
}

const CLI = { type: 'system', id: 'test' } as const;
const REASON = 'customer ticket 4711: deliveries stuck';

describe.each(testDialects())('staff access on %s', { timeout: 180_000 }, (dialect) => {
  let app: TestApp;
  let idp: TestIdp;
  let mail: MailCapture;
  // From the wall clock, so the CLI (which runs on it) and the app agree on which grants are live.
  const clock = new TestClock(Date.now());
  let tenantA: { tenant: string; apiKey: string };
  let tenantB: { tenant: string; apiKey: string };
  const people: Record<'ada' | 'bob' | 'cy', { sub: string; email: string; key: SoftwareAuthenticator; enrolmentCode?: string }> = {
    ada: { sub: 'ada', email: 'ada@ops.example', key: new SoftwareAuthenticator('localhost', 'https://localhost') },
    bob: { sub: 'bob', email: 'bob@ops.example', key: new SoftwareAuthenticator('localhost', 'https://localhost') },
    cy: { sub: 'cy', email: 'cy@ops.example', key: new SoftwareAuthenticator('localhost', 'https://localhost') },
  };
  let ada: StaffBrowser;
  let bob: StaffBrowser;

  beforeAll(async () => {
    const staffIdp = await startStaffIdp();
    idp = staffIdp.idp;
    mail = await startMailCapture();
    app = await startTestApp(dialect, {
      env: { ...staffIdp.env, SEALPOST_OUTBOUND_SMTP_URL: mail.url },
      overrides: { identityClock: clock.now, outboundMailTls: mail.tls },
    });
    tenantA = await app.createTenant('operation');
    tenantB = await app.createTenant('starter');
    for (const person of Object.values(people)) person.enrolmentCode = (await app.context.staff.signIn.add(person.email, CLI)).enrolmentCode;
    ada = await staffSignIn(app.fetch, idp, people.ada);
    bob = await staffSignIn(app.fetch, idp, people.bob);
  });
  afterAll(async () => {
    await app?.close();
    await idp?.close();
    await mail?.close();
  });

  const post = (staff: StaffBrowser, path: string, body?: unknown): Promise<Response> =>
    app.fetch(path, { method: 'POST', headers: asStaff(staff, body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const underGrant = (staff: StaffBrowser, grant: string, extra: Record<string, string> = {}) => asStaff(staff, { 'sealpost-staff-grant': grant, ...extra });
  const codeOf = async (res: Response): Promise<string> => ((await res.json()) as { code: string }).code;

  async function requested(staff: StaffBrowser, tenant: string, scope: 'read' | 'operate', minutes = 60): Promise<Grant> {
    const res = await post(staff, '/staff/v1/grants', { tenant, scope, reason: REASON, duration_minutes: minutes });
    expect(res.status).toBe(201);
    return (await res.json()) as Grant;
  }
  async function approved(scope: 'read' | 'operate', minutes = 60, tenant = tenantA.tenant): Promise<Grant> {
    const grant = await requested(ada, tenant, scope, minutes);
    const res = await post(bob, `/staff/v1/grants/${grant.id}/approve`);
    expect(res.status).toBe(200);
    return (await res.json()) as Grant;
  }
  async function tenantEvents(apiKey: string, action: string): Promise<{ actor: { type: string; id: string }; details?: Record<string, unknown>; request?: { route: string } }[]> {
    const res = await app.fetch(`/v1/audit/events?limit=1000&action=${action}`, { token: apiKey });
    return ((await res.json()) as { data: { event: { actor: { type: string; id: string }; details?: Record<string, unknown>; request?: { route: string } } }[] }).data.map((e) => e.event);
  }

  it('signs staff in through the OIDC provider and a WebAuthn key with user verification', async () => {
    const session = await app.fetch('/staff/v1/auth/session', { headers: asStaff(ada) });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ staff: { email: 'ada@ops.example' }, webauthn_satisfied: true });
    // The cookie is the staff one, with the __Host- guarantees.
    expect(ada.cookie.startsWith('__Host-sealpost_staff=')).toBe(true);
  });

  it('reaches nothing but the WebAuthn step after the OIDC login alone', async () => {
    const login = await staffOidcLogin(app.fetch, idp, people.ada);
    expect(login.body.next).toBe('webauthn');
    const pending = login.staff!;
    const grants = await app.fetch('/staff/v1/grants', { headers: asStaff(pending) });
    expect(grants.status).toBe(403);
    expect(await codeOf(grants)).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
    const grant = await approved('read');
    const data = await app.fetch('/v1/payloads', { headers: underGrant(pending, grant.id) });
    expect(data.status).toBe(403);
    expect(await codeOf(data)).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
  });

  it('refuses a WebAuthn key that does not verify the user', async () => {
    const { enrolmentCode } = await app.context.staff.signIn.add('presence-only@ops.example', CLI);
    const login = await staffOidcLogin(app.fetch, idp, { sub: 'presence', email: 'presence-only@ops.example' });
    const done = await staffWebauthn(app.fetch, login.staff!, new SoftwareAuthenticator('localhost', 'https://localhost', false), enrolmentCode);
    expect(done.res.status).toBe(401);
    expect(await codeOf(done.res)).toBe('SP_ERR_AUTH_SECOND_FACTOR_FAILED');
  });

  it('refuses an e-mail not on the staff allow-list, and a wrong enrolment code', async () => {
    const stranger = await staffOidcLogin(app.fetch, idp, { sub: 'mallory', email: 'mallory@ops.example' });
    expect(stranger.res.status).toBe(401);
    expect(stranger.body.code).toBe('SP_ERR_STAFF_SIGN_IN_REFUSED');

    await app.context.staff.signIn.add('new-hire@ops.example', CLI);
    const login = await staffOidcLogin(app.fetch, idp, { sub: 'new-hire', email: 'new-hire@ops.example' });
    expect(login.body.next).toBe('webauthn_enrolment');
    const done = await staffWebauthn(app.fetch, login.staff!, new SoftwareAuthenticator('localhost', 'https://localhost'), 'AAAAAAAAAAAAAAAAAAAAAA');
    expect(done.res.status).toBe(401);
    expect(await codeOf(done.res)).toBe('SP_ERR_STAFF_SIGN_IN_REFUSED');
  });

  it('refuses tenant credentials on the staff API', async () => {
    const res = await app.fetch('/staff/v1/grants', { token: tenantA.apiKey });
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe('SP_ERR_STAFF_REQUIRED');
    expect((await app.fetch('/staff/v1/tenants')).status).toBe(401);
  });

  it('refuses a state-changing staff request without the CSRF token', async () => {
    const res = await app.fetch('/staff/v1/grants', {
      method: 'POST',
      headers: { cookie: ada.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: tenantA.tenant, scope: 'read', reason: REASON, duration_minutes: 30 }),
    });
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe('SP_ERR_AUTH_CSRF');
  });

  it('refuses self-approval', async () => {
    const grant = await requested(ada, tenantA.tenant, 'read');
    for (const action of ['approve', 'deny']) {
      const res = await post(ada, `/staff/v1/grants/${grant.id}/${action}`);
      expect(res.status).toBe(403);
      expect(await codeOf(res)).toBe('SP_ERR_STAFF_SELF_APPROVAL');
    }
    const res = await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) });
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe('SP_ERR_STAFF_GRANT_REQUIRED');
  });

  it('refuses a request longer than 4 hours or without a reason, writing nothing', async () => {
    const before = ((await (await app.fetch('/staff/v1/grants', { headers: asStaff(ada) })).json()) as { data: Grant[] }).data.length;
    for (const body of [
      { tenant: tenantA.tenant, scope: 'read', reason: REASON, duration_minutes: 241 },
      { tenant: tenantA.tenant, scope: 'read', reason: '', duration_minutes: 30 },
      { tenant: tenantA.tenant, scope: 'admin', reason: REASON, duration_minutes: 30 },
    ]) {
      expect((await post(ada, '/staff/v1/grants', body)).status).toBe(400);
      expect((await post(ada, '/staff/v1/grants/break-glass', body)).status).toBe(400);
    }
    expect(((await (await app.fetch('/staff/v1/grants', { headers: asStaff(ada) })).json()) as { data: Grant[] }).data).toHaveLength(before);
  });

  it('grants nothing for a denied request', async () => {
    const grant = await requested(ada, tenantA.tenant, 'operate');
    const denied = await post(bob, `/staff/v1/grants/${grant.id}/deny`);
    expect(denied.status).toBe(200);
    expect(((await denied.json()) as Grant).state).toBe('denied');
    const res = await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) });
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe('SP_ERR_STAFF_GRANT_REQUIRED');
    expect((await post(bob, `/staff/v1/grants/${grant.id}/approve`)).status).toBe(409);
  });

  it('refuses staff without a grant, and under a grant of another staff member', async () => {
    const none = await app.fetch('/v1/payloads', { headers: asStaff(ada) });
    expect(none.status).toBe(403);
    expect(await codeOf(none)).toBe('SP_ERR_STAFF_GRANT_REQUIRED');
    const grant = await approved('read');
    const borrowed = await app.fetch('/v1/payloads', { headers: underGrant(bob, grant.id) });
    expect(borrowed.status).toBe(403);
    expect(await codeOf(borrowed)).toBe('SP_ERR_STAFF_GRANT_REQUIRED');
  });

  it('opens only the granted tenant: a grant for tenant A does not open tenant B', async () => {
    const created = await app.fetch('/v1/destinations', {
      method: 'POST',
      token: tenantB.apiKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://hooks.example.com/b', name: 'b' }),
    });
    const bDestination = ((await created.json()) as { id?: string }).id;
    const grant = await approved('operate');
    const list = await app.fetch('/v1/destinations', { headers: underGrant(ada, grant.id) });
    expect(list.status).toBe(200);
    expect(JSON.stringify(await list.json())).not.toContain('hooks.example.com/b');
    if (bDestination) expect((await app.fetch(`/v1/destinations/${bDestination}`, { headers: underGrant(ada, grant.id) })).status).toBe(404);
    const staffAccessOfB = (await (await app.fetch('/v1/staff-access', { token: tenantB.apiKey })).json()) as { data: Grant[] };
    expect(staffAccessOfB.data.map((g) => g.id)).not.toContain(grant.id);
  });

  it('gives operate a developer\'s reach and never key, member or policy management', async () => {
    const grant = await approved('operate');
    const h = (extra: Record<string, string> = {}) => underGrant(ada, grant.id, extra);
    expect((await app.fetch('/v1/deliveries', { headers: h() })).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', '/v1/api-keys', undefined],
      ['POST', '/v1/api-keys', { name: 'staff', scopes: ['payloads:read'] }],
      ['POST', '/v1/members', { email: 'x@example.com', role: 'owner' }],
      ['PUT', '/v1/policies', { enforce_2fa: false }],
    ] as const) {
      const res = await app.fetch(path, { method, headers: h(body ? { 'content-type': 'application/json' } : {}), ...(body ? { body: JSON.stringify(body) } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(await codeOf(res)).toBe('SP_ERR_AUTH_SCOPE_MISSING');
    }
    const readOnly = await approved('read');
    const write = await app.fetch('/v1/destinations', { method: 'POST', headers: underGrant(ada, readOnly.id, { 'content-type': 'application/json' }), body: JSON.stringify({ url: 'https://hooks.example.com/x' }) });
    expect(write.status).toBe(403);
    // Own-account routes are an operator's, never a grant's.
    expect((await app.fetch('/v1/auth/sessions', { headers: underGrant(ada, readOnly.id) })).status).toBe(403);
  });

  it('stops a grant mid-session when it expires, and records the expiry', async () => {
    const grant = await approved('read', 5);
    expect((await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) })).status).toBe(200);
    clock.advance(6 * 60_000);
    // The staff session is still live (idle limit 15 min): only the grant ended.
    expect((await app.fetch('/staff/v1/auth/session', { headers: asStaff(ada) })).status).toBe(200);
    const after = await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) });
    expect(after.status).toBe(403);
    expect(await codeOf(after)).toBe('SP_ERR_STAFF_GRANT_REQUIRED');
    const expired = await tenantEvents(tenantA.apiKey, 'staff.access_expired');
    expect(expired.filter((e) => e.details?.grant === grant.id)).toHaveLength(1);
    // bob's session must stay alive too for the tests after this one.
    expect((await app.fetch('/staff/v1/auth/session', { headers: asStaff(bob) })).status).toBe(200);
  });

  it('stops a grant at once when revoked', async () => {
    const grant = await approved('read');
    expect((await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) })).status).toBe(200);
    const revoked = await post(bob, `/staff/v1/grants/${grant.id}/revoke`);
    expect(revoked.status).toBe(200);
    const after = await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) });
    expect(after.status).toBe(403);
    expect(await codeOf(after)).toBe('SP_ERR_STAFF_GRANT_REQUIRED');
    expect((await post(bob, `/staff/v1/grants/${grant.id}/revoke`)).status).toBe(409);
  });

  it('ends staff access with the tenant: erasure revokes live grants, denies pending ones and refuses new requests', async () => {
    const doomed = await app.createTenant('starter');
    const live = await approved('read', 60, doomed.tenant);
    const pending = await requested(ada, doomed.tenant, 'read');
    expect((await app.fetch('/v1/payloads', { headers: underGrant(ada, live.id) })).status).toBe(200);

    await app.context.erasure.erase(doomed.tenant, CLI, 'cli');

    const grants = (await (await app.fetch('/staff/v1/grants', { headers: asStaff(bob) })).json()) as { data: Grant[] };
    expect(grants.data.find((g) => g.id === live.id)?.state).toBe('revoked');
    expect(grants.data.find((g) => g.id === pending.id)?.state).toBe('denied');
    // A late approval of the old request opens nothing, and a new request is refused as for no tenant.
    expect((await post(bob, `/staff/v1/grants/${pending.id}/approve`)).status).toBe(409);
    const again = await post(ada, '/staff/v1/grants', { tenant: doomed.tenant, scope: 'read', reason: REASON, duration_minutes: 60 });
    expect(again.status).toBe(404);
    expect(await codeOf(again)).toBe('SP_ERR_RESOURCE_NOT_FOUND');
  });

  it('records every action under a grant in the tenant\'s log with the staff actor and the grant', async () => {
    const grant = await approved('read');
    expect((await app.fetch('/v1/deliveries', { headers: underGrant(ada, grant.id) })).status).toBe(200);
    const staffId = (await app.context.staff.signIn.list()).find((s) => s.email === 'ada@ops.example')!.id;
    // api.request is written after the response: wait for it.
    let requests: Awaited<ReturnType<typeof tenantEvents>> = [];
    await until(async () => (requests = (await tenantEvents(tenantA.apiKey, 'api.request')).filter((e) => e.details?.grant === grant.id)).length > 0, { explain: () => 'no api.request event under the grant' });
    expect(requests).toContainEqual(expect.objectContaining({ actor: { type: 'staff', id: staffId }, request: expect.objectContaining({ route: '/v1/deliveries' }) as unknown }));
    for (const action of ['staff.access_requested', 'staff.access_approved']) {
      expect((await tenantEvents(tenantA.apiKey, action)).some((e) => e.details?.grant === grant.id), action).toBe(true);
    }
  });

  it('break-glass: refuses without a reason, grants at once, alerts every other staff member and is flagged', async () => {
    const noReason = await post(ada, '/staff/v1/grants/break-glass', { tenant: tenantB.tenant, scope: 'read', duration_minutes: 30 });
    expect(noReason.status).toBe(400);
    const res = await post(ada, '/staff/v1/grants/break-glass', { tenant: tenantB.tenant, scope: 'read', reason: 'outage, on-call approver unreachable', duration_minutes: 30 });
    expect(res.status).toBe(201);
    const grant = (await res.json()) as Grant;
    expect(grant).toMatchObject({ state: 'approved', break_glass: true, approver: null });
    for (const other of ['bob@ops.example', 'cy@ops.example', 'presence-only@ops.example', 'new-hire@ops.example']) {
      const alert = await mail.waitFor(other);
      expect(alert.raw).toContain(grant.id);
      expect(alert.raw).toContain('break-glass');
    }
    expect(mail.messages.some((m) => m.to.includes('ada@ops.example'))).toBe(false);
    expect((await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) })).status).toBe(200);
    const flagged = await tenantEvents(tenantB.apiKey, 'staff.break_glass');
    expect(flagged.find((e) => e.details?.grant === grant.id)?.details).toMatchObject({ break_glass: true, reason: 'outage, on-call approver unreachable' });
  });

  it('shows the tenant every grant on it: GET /v1/staff-access', async () => {
    const all = ((await (await app.fetch('/staff/v1/grants', { headers: asStaff(bob) })).json()) as { data: Grant[] }).data.filter((g) => g.tenant === tenantA.tenant);
    const res = await app.fetch('/v1/staff-access', { token: tenantA.apiKey });
    expect(res.status).toBe(200);
    const seen = ((await res.json()) as { data: Grant[] }).data;
    expect(seen.map((g) => g.id).sort()).toEqual(all.map((g) => g.id).sort());
    expect(new Set(seen.map((g) => g.state))).toEqual(new Set(['requested', 'approved', 'denied', 'revoked', 'expired']));
    const decided = seen.find((g) => g.state === 'approved')!;
    expect(decided).toMatchObject({ requester: { email: 'ada@ops.example' }, approver: { email: 'bob@ops.example' }, reason: REASON, scope: expect.any(String) as unknown });
  });

  it('lists and revokes grants from the command line, as the system actor', async () => {
    const grant = await approved('read');
    const env = { ...cliEnvFor(app.testDb), SEALPOST_DATA_DIR: path.join(app.testDb.dir, 'data') };
    const listed = await runCli(['staff', 'grants', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as Grant[]).find((g) => g.id === grant.id)?.state).toBe('approved');
    const revoked = await runCli(['staff', 'revoke', grant.id, '--json'], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await app.fetch('/v1/payloads', { headers: underGrant(ada, grant.id) })).status).toBe(403);
    const events = await tenantEvents(tenantA.apiKey, 'staff.access_revoked');
    expect(events.find((e) => e.details?.grant === grant.id)?.actor).toEqual({ type: 'system', id: 'sealpost-cli' });
    expect((await runCli(['staff', 'revoke', 'not-a-grant'], env)).code).not.toBe(0);
  });

  it('changes a tenant\'s plan, in the tenant\'s audit log', async () => {
    const res = await app.fetch(`/staff/v1/tenants/${tenantB.tenant}/plan`, { method: 'PUT', headers: asStaff(bob, { 'content-type': 'application/json' }), body: JSON.stringify({ plan: 'growth' }) });
    expect(res.status).toBe(200);
    expect((await app.context.tenants.find(tenantB.tenant))?.plan).toBe('growth');
    expect((await tenantEvents(tenantB.apiKey, 'plan.changed')).at(-1)?.details).toEqual({ from: 'starter', to: 'growth' });
  });

  it('ends every session of a disabled staff member at once, and refuses their sign-in', async () => {
    const env = { ...cliEnvFor(app.testDb), SEALPOST_DATA_DIR: path.join(app.testDb.dir, 'data') };
    const cy = await staffSignIn(app.fetch, idp, people.cy);
    expect((await app.fetch('/staff/v1/auth/session', { headers: asStaff(cy) })).status).toBe(200);
    const disabled = await runCli(['staff', 'disable', '--email', 'cy@ops.example', '--json'], env);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect((await app.fetch('/staff/v1/auth/session', { headers: asStaff(cy) })).status).toBe(401);
    expect((await staffOidcLogin(app.fetch, idp, people.cy)).res.status).toBe(401);
  });

  it('refuses break-glass when there is no other active staff member to alert, granting nothing', async () => {
    for (const member of await app.context.staff.signIn.list()) {
      if (member.email !== 'ada@ops.example' && member.disabledAt === null) await app.context.staff.signIn.disable(member.email, CLI);
    }
    const before = mail.messages.length;
    const res = await post(ada, '/staff/v1/grants/break-glass', { tenant: tenantB.tenant, scope: 'read', reason: 'alone on call', duration_minutes: 30 });
    expect(res.status).toBe(409);
    expect(await codeOf(res)).toBe('SP_ERR_STAFF_BREAK_GLASS_UNWITNESSED');
    const grants = (await (await app.fetch('/staff/v1/grants', { headers: asStaff(ada) })).json()) as { data: Grant[] };
    expect(grants.data.some((g) => g.reason === 'alone on call')).toBe(false);
    expect(mail.messages.length).toBe(before);
  });

  it('ends an idle staff session after 15 minutes', async () => {
    clock.advance(16 * 60_000);
    const res = await app.fetch('/staff/v1/auth/session', { headers: asStaff(ada) });
    expect(res.status).toBe(401);
  });
});
