import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOperator, cookieOf, json, passwordLogin, signInAs, STRONG_PASSWORD, TestClock, totpAt, type SignedInOperator } from '../support/operators.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const MINUTE = 60_000;

describe.each(testDialects())('operator sign-in and sessions on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let tenant: { tenant: string; apiKey: string };
  const clock = new TestClock();

  beforeAll(async () => {
    app = await startTestApp(dialect, { overrides: { identityClock: clock.now } });
    tenant = await app.createTenant('operation');
  });
  afterAll(async () => {
    await app?.close();
  });

  const get = (path: string, op: Pick<SignedInOperator, 'cookie' | 'csrf'>) => app.fetch(path, { headers: asOperator(op) });
  const code = async (res: { json(): Promise<unknown> }) => ((await res.json()) as { code?: string }).code;

  it('sets a __Host- cookie that is Secure, HttpOnly, SameSite=Lax, Path=/ and has no Domain', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    const login = await passwordLogin(app, op.email);
    const header = login.res.headers.get('set-cookie')!;
    expect(header).toMatch(/^__Host-sealpost_session=[A-Za-z0-9_-]{43}; /);
    expect(header.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Lax', 'Secure']);
  });

  it('lets an account without a second factor reach nothing but enrolment', async () => {
    const email = 'fresh@example.com';
    const created = await app.context.identity.members.createOperator(tenant.tenant, email, 'owner', { type: 'system', id: 'test' });
    await app.context.identity.members.setPassword('setup', new URL(created.link!).hash.slice('#token='.length), STRONG_PASSWORD);
    const login = await passwordLogin(app, email);
    expect(login.body).toMatchObject({ second_factor_required: false, enrolment_required: true, session: { second_factor_satisfied: false } });
    const pending = { cookie: login.cookie, csrf: login.csrf };
    for (const path of ['/v1/payloads', '/v1/members', '/v1/api-keys', '/v1/auth/sessions']) {
      const res = await get(path, pending);
      expect(res.status, path).toBe(403);
      expect(await code(res)).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
    }
    expect((await get('/v1/auth/session', pending)).status).toBe(200);
    const enrol = await app.fetch('/v1/auth/totp/enrolment', { method: 'POST', headers: asOperator(pending) });
    expect(enrol.status).toBe(200);
  });

  it('asks for TOTP after the password, rotates the token on success, and refuses a used code', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'developer');
    const login = await passwordLogin(app, op.email);
    expect(login.body).toMatchObject({ second_factor_required: true });
    const pending = { cookie: login.cookie, csrf: login.csrf };
    expect((await get('/v1/payloads', pending)).status).toBe(403);
    const totp = await totpAt(op.totpSecret, clock);
    const done = await app.fetch('/v1/auth/second-factor', { ...json({ totp }), headers: asOperator(pending, { 'content-type': 'application/json' }) });
    expect(done.status).toBe(200);
    const full = { cookie: cookieOf(done), csrf: ((await done.json()) as { csrf_token: string }).csrf_token };
    expect(full.cookie).not.toBe(pending.cookie);
    expect((await get('/v1/payloads', full)).status).toBe(200);
    // The pre-second-factor token is worth nothing once rotated.
    expect((await get('/v1/auth/session', pending)).status).toBe(401);

    const again = await passwordLogin(app, op.email);
    const replay = await app.fetch('/v1/auth/second-factor', { ...json({ totp }), headers: asOperator({ cookie: again.cookie, csrf: again.csrf }, { 'content-type': 'application/json' }) });
    expect(replay.status).toBe(401);
    expect(await code(replay)).toBe('SP_ERR_AUTH_SECOND_FACTOR_FAILED');
  });

  it('accepts each recovery code once', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    expect(op.recoveryCodes).toHaveLength(10);
    const use = async () => {
      const login = await passwordLogin(app, op.email);
      return app.fetch('/v1/auth/second-factor', { ...json({ recovery_code: op.recoveryCodes[3] }), headers: asOperator({ cookie: login.cookie, csrf: login.csrf }, { 'content-type': 'application/json' }) });
    };
    expect((await use()).status).toBe(200);
    expect((await use()).status).toBe(401);
    const stored = await app.context.database.db.selectFrom('operator_recovery_codes').select('code_sha256').where('operator_id', '=', op.operatorId).execute();
    expect(stored.map((r) => r.code_sha256)).not.toContain(op.recoveryCodes[3]);
  });

  it('ends a session after 30 idle minutes', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    clock.advance(29 * MINUTE);
    expect((await get('/v1/auth/session', op)).status).toBe(200);
    clock.advance(31 * MINUTE);
    expect((await get('/v1/auth/session', op)).status).toBe(401);
  });

  it('ends a session 12 hours after sign-in however active', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    for (let elapsed = 0; elapsed < 11 * 60; elapsed += 20) {
      clock.advance(20 * MINUTE);
      expect((await get('/v1/auth/session', op)).status).toBe(200);
    }
    clock.advance(61 * MINUTE);
    expect((await get('/v1/auth/session', op)).status).toBe(401);
  });

  it('lists and revokes one\'s own sessions, at once', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    const other = await passwordLogin(app, op.email);
    const done = await app.fetch('/v1/auth/second-factor', { ...json({ totp: await totpAt(op.totpSecret, clock) }), headers: asOperator({ cookie: other.cookie, csrf: other.csrf }, { 'content-type': 'application/json' }) });
    const second = { cookie: cookieOf(done), csrf: ((await done.json()) as { csrf_token: string }).csrf_token };
    const list = (await (await get('/v1/auth/sessions', op)).json()) as { data: { id: string; current: boolean }[] };
    expect(list.data).toHaveLength(2);
    const target = list.data.find((s) => !s.current)!;
    expect((await app.fetch(`/v1/auth/sessions/${target.id}`, { method: 'DELETE', headers: asOperator(op) })).status).toBe(204);
    expect((await get('/v1/auth/session', second)).status).toBe(401);
    expect((await get('/v1/auth/session', op)).status).toBe(200);
  });

  it('refuses to revoke another operator\'s session', async () => {
    const a = await signInAs(app, clock, tenant.tenant, 'owner');
    const b = await signInAs(app, clock, tenant.tenant, 'viewer');
    const bSession = ((await (await get('/v1/auth/session', b)).json()) as { session: { id: string } }).session.id;
    expect((await app.fetch(`/v1/auth/sessions/${bSession}`, { method: 'DELETE', headers: asOperator(a) })).status).toBe(404);
    expect((await get('/v1/auth/session', b)).status).toBe(200);
  });

  it('logs out: the cookie is cleared and the session ends', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    const res = await app.fetch('/v1/auth/logout', { method: 'POST', headers: asOperator(op) });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^__Host-sealpost_session=; Path=\/; Max-Age=0/);
    expect((await get('/v1/auth/session', op)).status).toBe(401);
  });

  it('refuses a cookie-authenticated change without the CSRF token or from another origin', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'developer');
    const create = (headers: Record<string, string>) => app.fetch('/v1/inboxes', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    const missing = await create({ cookie: op.cookie });
    expect(missing.status).toBe(403);
    expect(await code(missing)).toBe('SP_ERR_AUTH_CSRF');
    expect((await create({ cookie: op.cookie, 'x-sealpost-csrf': 'A'.repeat(43) })).status).toBe(403);
    const foreign = await create(asOperator(op, { origin: 'https://evil.example' }));
    expect(foreign.status).toBe(403);
    expect(await code(foreign)).toBe('SP_ERR_AUTH_CSRF');
    expect((await create(asOperator(op, { origin: 'https://localhost' }))).status).toBe(201);
    expect(await app.context.database.db.selectFrom('inboxes').select('id').where('tenant_id', '=', tenant.tenant).execute()).toHaveLength(1);
  });

  it('gives unknown and known e-mails the same status and body', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    const known = await app.fetch('/v1/auth/login', json({ email: op.email, password: 'wrong password, long enough' }));
    const unknown = await app.fetch('/v1/auth/login', json({ email: 'nobody-here@example.com', password: 'wrong password, long enough' }));
    expect(known.status).toBe(401);
    expect(unknown.status).toBe(known.status);
    const strip = (body: string) => body.replace(/"instance":"[^"]*",?/, '').replace(/"request_id":"[^"]*",?/, '');
    expect(strip(await unknown.text())).toBe(strip(await known.text()));
  });

  it('backs off after five failed sign-ins of an account, even for the right password', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    for (let i = 0; i < 5; i++) expect((await app.fetch('/v1/auth/login', json({ email: op.email, password: `wrong password ${i} xx` }))).status).toBe(401);
    await app.fetch('/v1/auth/login', json({ email: op.email, password: 'wrong password 6 xx' }));
    const blocked = await app.fetch('/v1/auth/login', json({ email: op.email, password: STRONG_PASSWORD }));
    expect(blocked.status).toBe(429);
    expect(await code(blocked)).toBe('SP_ERR_AUTH_LOGIN_THROTTLED');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    clock.advance(15 * MINUTE);
    expect((await app.fetch('/v1/auth/login', json({ email: op.email, password: STRONG_PASSWORD }))).status).toBe(200);
  });

  it('keeps ingest for API keys and one\'s own account for sessions', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'owner');
    const ingest = await app.fetch('/v1/payloads', { method: 'POST', headers: asOperator(op, { 'content-type': 'application/json' }), body: '{}' });
    expect(ingest.status).toBe(403);
    expect(await code(ingest)).toBe('SP_ERR_AUTH_API_KEY_REQUIRED');
    const sessions = await app.fetch('/v1/auth/sessions', { token: tenant.apiKey });
    expect(sessions.status).toBe(403);
    expect(await code(sessions)).toBe('SP_ERR_AUTH_SESSION_REQUIRED');
  });

  it('counts the per-credential rate limit per session, apart from the tenant\'s keys', async () => {
    const limited = await startTestApp(dialect, { env: { SEALPOST_RATE_LIMIT_PER_KEY: '3' }, overrides: { identityClock: clock.now } });
    try {
      const t = await limited.createTenant('starter');
      const op = await signInAs(limited, clock, t.tenant, 'viewer');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await limited.fetch('/v1/signing-keys', { headers: asOperator(op) })).status);
      expect(statuses.at(-1)).toBe(429);
      expect((await limited.fetch('/v1/signing-keys', { token: t.apiKey })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('stores only the SHA-256 of session tokens', async () => {
    const op = await signInAs(app, clock, tenant.tenant, 'viewer');
    const token = op.cookie.split('=')[1]!;
    const rows = await app.context.database.db.selectFrom('operator_sessions').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  // Last in this file: it leaves 127.0.0.1 throttled for a while.
  it('backs off a client IP after twenty failed sign-ins, whichever accounts it tries', async () => {
    await until(async () => (await app.fetch('/v1/auth/login', json({ email: `guess-${Math.random()}@example.com`, password: 'guessing passwords here' }))).status === 429, { timeoutMs: 30_000 });
    const blocked = await app.fetch('/v1/auth/login', json({ email: 'someone-new@example.com', password: 'guessing passwords here' }));
    expect(blocked.status).toBe(429);
    expect(await code(blocked)).toBe('SP_ERR_AUTH_LOGIN_THROTTLED');
    const rows = await app.context.database.db.selectFrom('login_throttle').select(['key', 'failures']).where('key', '=', 'ip:127.0.0.1').execute();
    expect(rows[0]!.failures).toBeGreaterThan(20);
  });
});
