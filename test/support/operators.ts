import { generate } from 'otplib';
import type { Response } from 'undici';
import type { Role } from '../../src/identity/permissions.js';
import type { TestApp } from './test-app.js';

/** A movable clock for sessions, throttling and TOTP (SealpostOverrides.identityClock). */
export class TestClock {
  constructor(public ms = Date.UTC(2026, 11, 5, 9, 0, 0)) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const STRONG_PASSWORD = 'correct horse battery staple 42';

export interface SignedInOperator {
  readonly operatorId: string;
  readonly email: string;
  readonly cookie: string;
  readonly csrf: string;
  readonly totpSecret: string;
  readonly recoveryCodes: string[];
}

/** The `name=value` part of a Set-Cookie header. */
export function cookieOf(res: Response): string {
  const header = res.headers.get('set-cookie') ?? '';
  return header.split(';')[0] ?? '';
}

export function json(body: unknown): { method: 'POST'; headers: Record<string, string>; body: string } {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The token in a setup link's fragment. */
export function tokenOfLink(link: string): string {
  return new URL(link).hash.replace('#token=', '');
}

/** Logs in with e-mail and password; returns the pending session's cookie and CSRF token. */
export async function passwordLogin(app: TestApp, email: string, password = STRONG_PASSWORD): Promise<{ res: Response; cookie: string; csrf: string; body: Record<string, unknown> }> {
  const res = await app.fetch('/v1/auth/login', json({ email, password }));
  const body = (await res.json()) as Record<string, unknown>;
  return { res, cookie: cookieOf(res), csrf: String(body.csrf_token ?? ''), body };
}

/** A TOTP code for the clock's current time step. */
export function totpAt(secret: string, clock: TestClock): Promise<string> {
  return generate({ secret, epoch: Math.floor(clock.ms / 1000) });
}

/**
 * Creates an operator of `role` in `tenant` the way `sealpost operators create` does, sets the
 * password through the one-time link, signs in and enrols TOTP: a session with its second factor.
 */
export async function signInAs(app: TestApp, clock: TestClock, tenant: string, role: Role, email = `${role}-${Math.random().toString(36).slice(2)}@example.com`): Promise<SignedInOperator> {
  const created = await app.context.identity.members.createOperator(tenant, email, role, { type: 'system', id: 'test' });
  await app.context.identity.members.setPassword('setup', tokenOfLink(created.link!), STRONG_PASSWORD);
  const login = await passwordLogin(app, email);
  if (login.res.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
  const session = { cookie: login.cookie, 'x-sealpost-csrf': login.csrf };
  const enrol = (await (await app.fetch('/v1/auth/totp/enrolment', { method: 'POST', headers: { cookie: session.cookie, 'x-sealpost-csrf': login.csrf } })).json()) as { secret: string };
  const confirm = await app.fetch('/v1/auth/totp/confirmation', {
    method: 'POST',
    headers: { cookie: session.cookie, 'x-sealpost-csrf': login.csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ totp: await totpAt(enrol.secret, clock) }),
  });
  const confirmed = (await confirm.json()) as { recovery_codes: string[]; csrf_token: string };
  if (confirm.status !== 200) throw new Error(`enrolment failed: ${JSON.stringify(confirmed)}`);
  // Past the step just used, so the next code is a fresh one.
  clock.advance(30_000);
  return { operatorId: created.operatorId, email, cookie: cookieOf(confirm), csrf: confirmed.csrf_token, totpSecret: enrol.secret, recoveryCodes: confirmed.recovery_codes };
}

/** Headers of a request made with an operator session. */
export function asOperator(op: Pick<SignedInOperator, 'cookie' | 'csrf'>, extra: Record<string, string> = {}): Record<string, string> {
  return { cookie: op.cookie, 'x-sealpost-csrf': op.csrf, ...extra };
}
