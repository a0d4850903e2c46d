import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIn, startMailCapture, type MailCapture } from '../support/mail-capture.js';
import { asOperator, cookieOf, json, passwordLogin, signInAs, STRONG_PASSWORD, TestClock, tokenOfLink, totpAt, type SignedInOperator } from '../support/operators.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

describe.each(testDialects())('members, invites, password links and tenant policies on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let mail: MailCapture;
  let tenant: string;
  let owner: SignedInOperator;
  const clock = new TestClock();

  beforeAll(async () => {
    mail = await startMailCapture();
    app = await startTestApp(dialect, { env: { SEALPOST_OUTBOUND_SMTP_URL: mail.url }, overrides: { identityClock: clock.now, outboundMailTls: mail.tls } });
    tenant = (await app.createTenant('operation')).tenant;
    owner = await signInAs(app, clock, tenant, 'owner');
  });
  afterAll(async () => {
    await app?.close();
    await mail?.close();
  });

  const send = (op: Pick<SignedInOperator, 'cookie' | 'csrf'>, method: string, path: string, body?: unknown) =>
    app.fetch(path, { method, headers: asOperator(op, body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const code = async (res: { json(): Promise<unknown> }) => ((await res.json()) as { code?: string }).code;

  it('invites a colleague by e-mail with a narrower role, who sets a password, enrols and signs in', async () => {
    const invited = await send(owner, 'POST', '/v1/members', { email: 'Colleague@Example.com', role: 'developer' });
    expect(invited.status).toBe(201);
    const link = linkIn(await mail.waitFor('Colleague@Example.com'));
    expect(link).toMatch(/^https:\/\/localhost\/console\/password\/setup#token=/);
    const weak = await app.fetch('/v1/auth/password/setup', json({ token: tokenOfLink(link), password: 'qwerty123456' }));
    expect(weak.status).toBe(400);
    expect(await code(weak)).toBe('SP_ERR_AUTH_PASSWORD_REJECTED');
    expect((await app.fetch('/v1/auth/password/setup', json({ token: tokenOfLink(link), password: STRONG_PASSWORD }))).status).toBe(204);
    const reused = await app.fetch('/v1/auth/password/setup', json({ token: tokenOfLink(link), password: STRONG_PASSWORD }));
    expect(await code(reused)).toBe('SP_ERR_AUTH_LINK_INVALID');
    // E-mail addresses compare case-insensitively.
    const login = await passwordLogin(app, 'colleague@example.com');
    expect(login.body).toMatchObject({ enrolment_required: true });
    const members = (await (await send(owner, 'GET', '/v1/members')).json()) as { data: { email: string; role: string }[] };
    expect(members.data.find((m) => m.email === 'Colleague@Example.com')).toMatchObject({ role: 'developer' });
  });

  it('refuses an invite for someone already a member', async () => {
    const again = await send(owner, 'POST', '/v1/members', { email: 'colleague@example.com', role: 'viewer' });
    expect(again.status).toBe(409);
    expect(await code(again)).toBe('SP_ERR_MEMBER_EXISTS');
  });

  it('lets only owners grant owner, and nobody act above their own role', async () => {
    const admin = await signInAs(app, clock, tenant, 'admin');
    const grant = await send(admin, 'POST', '/v1/members', { email: 'would-be-owner@example.com', role: 'owner' });
    expect(grant.status).toBe(403);
    expect(await code(grant)).toBe('SP_ERR_MEMBER_ROLE_ESCALATION');
    expect(await app.context.database.db.selectFrom('operators').select('id').where('email_normalized', '=', 'would-be-owner@example.com').execute()).toEqual([]);
    const demoteOwner = await send(admin, 'PATCH', `/v1/members/${owner.operatorId}`, { role: 'viewer' });
    expect(demoteOwner.status).toBe(403);
    const selfPromote = await send(admin, 'PATCH', `/v1/members/${admin.operatorId}`, { role: 'owner' });
    expect(await code(selfPromote)).toBe('SP_ERR_MEMBER_ROLE_ESCALATION');
    const developer = await signInAs(app, clock, tenant, 'developer');
    expect(await code(await send(developer, 'POST', '/v1/members', { email: 'x@example.com', role: 'viewer' }))).toBe('SP_ERR_AUTH_SCOPE_MISSING');
  });

  it('ends a promoted member\'s sessions, so the wider role comes only with a fresh sign-in; a demotion applies at once', async () => {
    const dev = await signInAs(app, clock, tenant, 'developer');
    expect((await send(owner, 'PATCH', `/v1/members/${dev.operatorId}`, { role: 'admin' })).status).toBe(200);
    expect((await send(dev, 'GET', '/v1/auth/session')).status).toBe(401);
    const viewer = await signInAs(app, clock, tenant, 'admin');
    expect((await send(owner, 'PATCH', `/v1/members/${viewer.operatorId}`, { role: 'viewer' })).status).toBe(200);
    expect(await code(await send(viewer, 'GET', '/v1/api-keys'))).toBe('SP_ERR_AUTH_SCOPE_MISSING');
  });

  it('offers SSO the two operations it needs: a just-in-time operator, and a session with or without the second factor', async () => {
    expect((await send(owner, 'PUT', '/v1/policies', { sso_default_role: 'developer' })).status).toBe(200);
    const jit = await app.context.identity.members.findOrCreateForSso(tenant, 'sso-user@example.com', 'oidc');
    expect(jit).toMatchObject({ role: 'developer', created: true });
    expect(await app.context.identity.members.findOrCreateForSso(tenant, 'SSO-User@example.com', 'oidc')).toEqual({ ...jit, created: false });
    const withMfa = await app.context.identity.login.signIn(tenant, jit.operatorId, 'oidc', true, '127.0.0.1');
    expect(withMfa.issued.setCookie).toMatch(/^__Host-sealpost_session=/);
    const full = { cookie: withMfa.issued.setCookie.split(';')[0]!, csrf: withMfa.issued.csrfToken };
    expect((await send(full, 'GET', '/v1/destinations')).status).toBe(200);
    const withoutMfa = await app.context.identity.login.signIn(tenant, jit.operatorId, 'oidc', false, '127.0.0.1');
    expect(withoutMfa).toMatchObject({ secondFactorRequired: false, enrolmentRequired: true });
    const pending = { cookie: withoutMfa.issued.setCookie.split(';')[0]!, csrf: withoutMfa.issued.csrfToken };
    expect(await code(await send(pending, 'GET', '/v1/destinations'))).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
  });

  it('keeps the last owner', async () => {
    const removal = await send(owner, 'DELETE', `/v1/members/${owner.operatorId}`);
    expect(removal.status).toBe(409);
    expect(await code(removal)).toBe('SP_ERR_MEMBER_LAST_OWNER');
    expect(await code(await send(owner, 'PATCH', `/v1/members/${owner.operatorId}`, { role: 'admin' }))).toBe('SP_ERR_MEMBER_LAST_OWNER');
  });

  it('removing a member ends their sessions and revokes the keys they created, at once', async () => {
    const admin = await signInAs(app, clock, tenant, 'admin');
    const key = (await (await send(admin, 'POST', '/v1/api-keys', { name: 'from admin', scopes: ['payloads:read'] })).json()) as { api_key: string };
    expect((await app.fetch('/v1/payloads', { token: key.api_key })).status).toBe(200);
    const removed = await send(owner, 'DELETE', `/v1/members/${admin.operatorId}`);
    expect(await removed.json()).toEqual({ sessions_revoked: 1, keys: 1, key_action: 'revoke' });
    expect((await send(admin, 'GET', '/v1/auth/session')).status).toBe(401);
    expect((await app.fetch('/v1/payloads', { token: key.api_key })).status).toBe(401);
  });

  it('hands a removed member\'s keys to the tenant when the owner chooses so', async () => {
    const admin = await signInAs(app, clock, tenant, 'admin');
    const key = (await (await send(admin, 'POST', '/v1/api-keys', { name: 'kept', scopes: ['payloads:read'] })).json()) as { id: string; api_key: string };
    const removed = await send(owner, 'DELETE', `/v1/members/${admin.operatorId}?keys=hand_over`);
    expect(await removed.json()).toEqual({ sessions_revoked: 1, keys: 1, key_action: 'hand_over' });
    expect((await app.fetch('/v1/payloads', { token: key.api_key })).status).toBe(200);
    const row = await app.context.database.db.selectFrom('api_keys').select('created_by').where('id', '=', key.id).executeTakeFirstOrThrow();
    expect(row.created_by).toBeNull();
  });

  it('resets a password by a one-time link, ending every session; unknown e-mails get the same answer', async () => {
    const op = await signInAs(app, clock, tenant, 'viewer');
    const known = await app.fetch('/v1/auth/password/reset-request', json({ email: op.email }));
    const unknown = await app.fetch('/v1/auth/password/reset-request', json({ email: 'nobody@example.com' }));
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(await unknown.text()).toBe(await known.text());
    const link = linkIn(await mail.waitFor(op.email));
    expect(link).toContain('/console/password/reset#token=');
    expect((await app.fetch('/v1/auth/password/reset', json({ token: tokenOfLink(link), password: 'a brand new passphrase' }))).status).toBe(204);
    expect((await send(op, 'GET', '/v1/auth/session')).status).toBe(401);
    expect((await passwordLogin(app, op.email, 'a brand new passphrase')).res.status).toBe(200);
    expect(mail.messages.some((m) => m.to.includes('nobody@example.com'))).toBe(false);
  });

  it('refuses to turn enforce_2fa off on the operation plan', async () => {
    const res = await send(owner, 'PUT', '/v1/policies', { enforce_2fa: false });
    expect(res.status).toBe(409);
    expect(await code(res)).toBe('SP_ERR_POLICY_LOCKED');
    expect(await (await send(owner, 'GET', '/v1/policies')).json()).toMatchObject({ enforce_2fa: true });
  });

  it('refuses sso_mfa_values in the policy (the SSO settings hold the one MFA rule), writing nothing', async () => {
    const before = await (await send(owner, 'GET', '/v1/policies')).json();
    const res = await send(owner, 'PUT', '/v1/policies', { sso_only: true, sso_mfa_values: ['mfa'] });
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('SP_ERR_HTTP_BAD_REQUEST');
    const after = (await (await send(owner, 'GET', '/v1/policies')).json()) as Record<string, unknown>;
    expect(after).toEqual(before);
    expect(after).not.toHaveProperty('sso_mfa_values');
  });

  it('lets an owner of a smaller plan turn enforce_2fa off, and only an owner change the policy', async () => {
    const starter = (await app.createTenant('starter')).tenant;
    const starterOwner = await signInAs(app, clock, starter, 'owner');
    const admin = await signInAs(app, clock, starter, 'admin');
    expect(await code(await send(admin, 'PUT', '/v1/policies', { enforce_2fa: false }))).toBe('SP_ERR_AUTH_SCOPE_MISSING');
    const res = await send(starterOwner, 'PUT', '/v1/policies', { enforce_2fa: false });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ enforce_2fa: false, webauthn_only: false, sso_only: false });
    // Another tenant's policy is untouched.
    expect(await (await send(owner, 'GET', '/v1/policies')).json()).toMatchObject({ enforce_2fa: true });
  });

  it('accepts only WebAuthn when the policy says webauthn_only: TOTP then only opens WebAuthn enrolment', async () => {
    const op = await signInAs(app, clock, tenant, 'viewer');
    expect((await send(owner, 'PUT', '/v1/policies', { webauthn_only: true })).status).toBe(200);
    const login = await passwordLogin(app, op.email);
    // TOTP no longer counts as a factor: the account must enrol WebAuthn.
    expect(login.body).toMatchObject({ enrolment_required: true });
    const pending = { cookie: login.cookie, csrf: login.csrf };
    // Enrolling needs proof of the factor the account already has.
    expect(await code(await send(pending, 'POST', '/v1/auth/webauthn/registration-options'))).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
    const totp = await send(pending, 'POST', '/v1/auth/second-factor', { totp: await totpAt(op.totpSecret, clock) });
    expect(totp.status).toBe(200);
    const body = (await totp.json()) as { enrolment_required: boolean; session: { second_factor_satisfied: boolean }; csrf_token: string };
    expect(body).toMatchObject({ enrolment_required: true, session: { second_factor_satisfied: false } });
    const enrolOnly = { cookie: cookieOf(totp), csrf: body.csrf_token };
    expect(await code(await send(enrolOnly, 'GET', '/v1/payloads'))).toBe('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED');
    expect((await send(enrolOnly, 'POST', '/v1/auth/webauthn/registration-options')).status).toBe(200);
    expect(await code(await send(enrolOnly, 'POST', '/v1/auth/totp/enrolment'))).toBe('SP_ERR_AUTH_SECOND_FACTOR_NOT_ALLOWED');
    expect((await send(owner, 'PUT', '/v1/policies', { webauthn_only: false })).status).toBe(200);
  });

  it.runIf(dialect === 'sqlite')('says clearly that mail is not configured, and writes nothing', async () => {
    const bare = await startTestApp(dialect, { overrides: { identityClock: clock.now } });
    try {
      const t = (await bare.createTenant('starter')).tenant;
      const op = await signInAs(bare, clock, t, 'owner');
      const invite = await bare.fetch('/v1/members', { method: 'POST', headers: asOperator(op, { 'content-type': 'application/json' }), body: JSON.stringify({ email: 'someone@example.com', role: 'viewer' }) });
      expect(invite.status).toBe(503);
      expect(await code(invite)).toBe('SP_ERR_MAIL_NOT_CONFIGURED');
      expect(await bare.context.database.db.selectFrom('operators').select('id').where('email_normalized', '=', 'someone@example.com').execute()).toEqual([]);
    } finally {
      await bare.close();
    }
  });
});
