import type { Kysely } from 'kysely';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { normaliseEmail, type OperatorRepository } from '../operators/operator.repository.js';
import { verifyPassword } from '../operators/password.js';
import type { PolicyRepository } from '../policies/policy.repository.js';
import type { SessionPrincipal } from '../principal.js';
import type { SecondFactorAnswer, SecondFactorService } from '../second-factor/second-factor.service.js';
import { FREE_FAILURES, LoginThrottle } from './login-throttle.js';
import type { IssuedSession, SessionService } from './session.service.js';

export interface SignedIn {
  readonly issued: IssuedSession;
  /** The operator has a factor and must now present it. */
  readonly secondFactorRequired: boolean;
  /** The operator has no factor the policy accepts and must enrol one first. */
  readonly enrolmentRequired: boolean;
}

function loginFailed(reason: string): SealpostError {
  return new SealpostError('SP_ERR_AUTH_LOGIN_FAILED', 'Invalid e-mail or password', { logDetail: { reason } });
}

function throttled(waitMs: number): SealpostError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new SealpostError('SP_ERR_AUTH_LOGIN_THROTTLED', `Too many failed sign-ins; retry in ${seconds} s`, { logDetail: { retryAfter: seconds } });
}

/**
 * Sign-in (issue 11): password, then the second factor. Unknown and known e-mails get the same
 * answer after the same work (a dummy argon2 verification), failures back off exponentially per
 * account and per IP, and every attempt is in the audit log without the password or code.
 */
export class LoginService {
  constructor(
    private readonly operators: OperatorRepository,
    private readonly policies: PolicyRepository,
    private readonly sessions: SessionService,
    private readonly secondFactors: SecondFactorService,
    private readonly throttle: LoginThrottle,
    private readonly audited: { db: Kysely<Database>; audit: AuditRecorder },
  ) {}

  private async record(event: Parameters<AuditRecorder>[1]): Promise<void> {
    await this.audited.db.transaction().execute((tx) => this.audited.audit(tx, event));
  }

  async login(input: { email: string; password: string; tenant?: string | undefined }, ip: string): Promise<SignedIn> {
    const accountKey = LoginThrottle.accountKey(normaliseEmail(input.email));
    const ipKey = LoginThrottle.ipKey(ip);
    const wait = await this.throttle.waitMs([accountKey, ipKey]);
    if (wait > 0) {
      await this.record({ tenant: null, actor: { type: 'system', id: 'login' }, action: 'login.failed', details: { ip, reason: 'throttled' } });
      throw throttled(wait);
    }
    const found = await this.operators.findForLogin(input.email);
    const passwordOk = await verifyPassword(found?.passwordHash, input.password);
    const tenants = found && passwordOk ? await this.operators.tenantsOf(found.operator.id) : [];
    const tenantId = input.tenant === undefined ? tenants[0] : tenants.find((t) => t === input.tenant);
    if (!found || !passwordOk || !tenantId) {
      await this.throttle.failed(accountKey, FREE_FAILURES.account);
      await this.throttle.failed(ipKey, FREE_FAILURES.ip);
      // A known account's failure is its tenant's business; an unknown e-mail belongs to no tenant.
      const known = found ? (await this.operators.tenantsOf(found.operator.id))[0] : undefined;
      await this.record({
        tenant: known ?? null,
        actor: known && found ? { type: 'operator', id: found.operator.id } : { type: 'system', id: 'login' },
        action: 'login.failed',
        details: { ip, reason: !found ? 'unknown account' : !passwordOk ? 'wrong password' : 'not a member of the tenant asked' },
      });
      throw loginFailed(!found ? 'unknown account' : !passwordOk ? 'wrong password' : 'no such membership');
    }
    const operatorId = found.operator.id;
    const policy = await this.policies.find(tenantId);
    if (policy.ssoOnly) {
      await this.record({ tenant: tenantId, actor: { type: 'operator', id: operatorId }, action: 'login.failed', details: { ip, reason: 'sso only' } });
      throw new SealpostError('SP_ERR_AUTH_SSO_REQUIRED', 'This tenant signs in through its identity provider only');
    }
    await this.throttle.succeeded(accountKey);
    return this.signIn(tenantId, operatorId, 'password', false, ip);
  }

  /**
   * Issues the session after a first factor (password here; OIDC or SAML from src/identity/sso/,
   * with `mfaAsserted` when the IdP asserted MFA the tenant counts, except under `webauthn_only`),
   * with `login.succeeded`.
   * Without a satisfied second factor, the session reaches only the second-factor and enrolment
   * routes.
   */
  async signIn(tenantId: string, operatorId: string, method: 'password' | 'oidc' | 'saml', mfaAsserted: boolean, ip: string): Promise<SignedIn> {
    const policy = await this.policies.find(tenantId);
    const hasFactor = await this.secondFactors.hasFactor(operatorId, policy);
    // An enrolled factor is always asked for; without one, only a policy that does not enforce 2FA lets the session through.
    // Under `webauthn_only` the IdP's MFA does not count: its method is not ours to check (SMS and
    // push approvals can be phished), so the person still proves a WebAuthn key here.
    const idpCounts = mfaAsserted && !policy.webauthnOnly;
    const satisfied = idpCounts || (!hasFactor && !policy.enforce2fa);
    return this.audited.db.transaction().execute(async (tx) => {
      const issued = await this.sessions.issue({ tenantId, operatorId, method, secondFactorSatisfied: satisfied }, tx);
      await this.audited.audit(tx, {
        tenant: tenantId,
        actor: { type: 'operator', id: operatorId },
        action: 'login.succeeded',
        resource: issued.session.id,
        details: { ip, method, second_factor: satisfied ? (idpCounts ? 'asserted by idp' : 'not required') : hasFactor ? 'pending' : 'enrolment required' },
      });
      return { issued, secondFactorRequired: !satisfied && hasFactor, enrolmentRequired: !satisfied && !hasFactor };
    });
  }

  /**
   * The second step: checks the answer, marks the session satisfied and rotates its token. A
   * factor the policy no longer accepts (TOTP or a recovery code under `webauthn_only`) proves
   * the person but satisfies nothing: the session may then only enrol WebAuthn.
   */
  async secondFactor(principal: SessionPrincipal, answer: SecondFactorAnswer, ip: string): Promise<{ issued: IssuedSession; enrolmentRequired: boolean }> {
    const key = `2fa:${principal.operatorId}`;
    const wait = await this.throttle.waitMs([key]);
    if (wait > 0) throw throttled(wait);
    const policy = await this.policies.find(principal.tenantId);
    const challenge = 'webauthn' in answer ? await this.sessions.takeChallenge(principal) : null;
    let kind: string;
    try {
      kind = await this.secondFactors.verify(principal.operatorId, answer, challenge);
    } catch (err) {
      await this.throttle.failed(key, FREE_FAILURES.account);
      await this.record({ tenant: principal.tenantId, actor: principal.actor, action: 'login.failed', resource: principal.sessionId, details: { ip, reason: 'second factor' } });
      throw err;
    }
    await this.throttle.succeeded(key);
    const accepted = !policy.webauthnOnly || kind === 'webauthn';
    const issued = accepted ? await this.sessions.completeSecondFactor(principal) : await this.sessions.allowEnrolmentOnly(principal);
    await this.record({ tenant: principal.tenantId, actor: principal.actor, action: 'second_factor.verified', resource: principal.sessionId, details: { kind, satisfied: accepted } });
    return { issued, enrolmentRequired: !accepted };
  }
}
