import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOperator, cookieOf, passwordLogin, STRONG_PASSWORD, TestClock, tokenOfLink } from '../support/operators.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

describe.each(testDialects())('WebAuthn second factor on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let tenant: string;
  const clock = new TestClock();

  beforeAll(async () => {
    app = await startTestApp(dialect, { overrides: { identityClock: clock.now } });
    tenant = (await app.createTenant('operation')).tenant;
  });
  afterAll(async () => {
    await app?.close();
  });

  async function newOperator(email: string): Promise<{ cookie: string; csrf: string }> {
    const created = await app.context.identity.members.createOperator(tenant, email, 'developer', { type: 'system', id: 'test' });
    await app.context.identity.members.setPassword('setup', tokenOfLink(created.link!), STRONG_PASSWORD);
    const login = await passwordLogin(app, email);
    return { cookie: login.cookie, csrf: login.csrf };
  }

  const post = (session: { cookie: string; csrf: string }, path: string, body?: unknown) =>
    app.fetch(path, { method: 'POST', headers: asOperator(session, body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('registers a security key, which then signs in as the second factor', async () => {
    const pending = await newOperator('key-holder@example.com');
    const authenticator = new SoftwareAuthenticator('localhost', 'https://localhost');
    const options = (await (await post(pending, '/v1/auth/webauthn/registration-options')).json()) as { challenge: string; rp: { id: string }; attestation: string };
    expect(options).toMatchObject({ rp: { id: 'localhost' }, attestation: 'none' });
    const registered = await post(pending, '/v1/auth/webauthn/registration', { webauthn: authenticator.register(options.challenge) });
    expect(registered.status).toBe(200);
    const body = (await registered.json()) as { recovery_codes: string[]; session: { second_factor_satisfied: boolean } };
    expect(body.recovery_codes).toHaveLength(10);
    expect(body.session.second_factor_satisfied).toBe(true);

    const login = await passwordLogin(app, 'key-holder@example.com');
    expect(login.body).toMatchObject({ second_factor_required: true });
    const session = { cookie: login.cookie, csrf: login.csrf };
    const challenge = ((await (await post(session, '/v1/auth/webauthn/authentication-options')).json()) as { challenge: string }).challenge;
    const done = await post(session, '/v1/auth/second-factor', { webauthn: authenticator.authenticate(challenge) });
    expect(done.status).toBe(200);
    const full = { cookie: cookieOf(done), csrf: ((await done.json()) as { csrf_token: string }).csrf_token };
    expect((await app.fetch('/v1/destinations', { headers: asOperator(full) })).status).toBe(200);
  });

  it('refuses to enrol a new factor with only the password of an account that has one', async () => {
    const pending = await newOperator('stolen-password@example.com');
    const owner = new SoftwareAuthenticator('localhost', 'https://localhost');
    const options = (await (await post(pending, '/v1/auth/webauthn/registration-options')).json()) as { challenge: string };
    expect((await post(pending, '/v1/auth/webauthn/registration', { webauthn: owner.register(options.challenge) })).status).toBe(200);

    // Someone with the password only signs in and tries to add their own authenticator or TOTP.
    const login = await passwordLogin(app, 'stolen-password@example.com');
    const attacker = { cookie: login.cookie, csrf: login.csrf };
    for (const path of ['/v1/auth/webauthn/registration-options', '/v1/auth/totp/enrolment']) {
      const res = await post(attacker, path);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
    }
    const theirs = new SoftwareAuthenticator('localhost', 'https://localhost');
    expect((await post(attacker, '/v1/auth/webauthn/registration', { webauthn: theirs.register('AAAAAAAAAAAAAAAAAAAAAA') })).status).toBe(403);
    expect((await app.fetch('/v1/destinations', { headers: asOperator(attacker) })).status).toBe(403);
  });

  it('refuses an assertion made for another origin, and a challenge answered twice', async () => {
    const pending = await newOperator('phished@example.com');
    const authenticator = new SoftwareAuthenticator('localhost', 'https://localhost');
    const options = (await (await post(pending, '/v1/auth/webauthn/registration-options')).json()) as { challenge: string };
    expect((await post(pending, '/v1/auth/webauthn/registration', { webauthn: authenticator.register(options.challenge) })).status).toBe(200);

    const login = await passwordLogin(app, 'phished@example.com');
    const session = { cookie: login.cookie, csrf: login.csrf };
    const challenge = ((await (await post(session, '/v1/auth/webauthn/authentication-options')).json()) as { challenge: string }).challenge;
    const phished = await post(session, '/v1/auth/second-factor', { webauthn: authenticator.authenticate(challenge, 'https://sealpost.evil.example') });
    expect(phished.status).toBe(401);
    // The challenge was spent by the refused attempt: answering it again fails too.
    const replay = await post(session, '/v1/auth/second-factor', { webauthn: authenticator.authenticate(challenge) });
    expect(replay.status).toBe(401);
    expect((await app.fetch('/v1/destinations', { headers: asOperator(session) })).status).toBe(403);
  });
});
