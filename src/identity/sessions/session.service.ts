import type { Kysely } from 'kysely';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { OperatorRepository } from '../operators/operator.repository.js';
import { ROLE_PERMISSIONS } from '../permissions.js';
import type { SessionPrincipal } from '../principal.js';
import { csrfTokenFor, newSessionToken, sessionCookie, tokenSha256 } from './session-cookie.js';
import type { SessionMethod, SessionRecord, SessionRepository } from './session.repository.js';

/** `last_seen_at` is written at most this often per session, so reads do not each cost a write. */
const LAST_SEEN_RESOLUTION_MS = 30_000;
/** Sessions whose last write is remembered in this process. */
const MAX_TOUCH_ENTRIES = 100_000;

export interface SessionLimits {
  /** Idle timeout: a session unused this long ends (30 min by default). */
  readonly idleMs: number;
  /** Absolute timeout: every session ends this long after sign-in (12 h by default). */
  readonly absoluteMs: number;
}

/** A new (or rotated) session: what a route needs to set the cookie and tell the page its CSRF token. */
export interface IssuedSession {
  readonly session: SessionRecord;
  /** The cookie value; shown once, only its SHA-256 is stored. */
  readonly token: string;
  readonly csrfToken: string;
  /** The complete Set-Cookie header value. */
  readonly setCookie: string;
}

function unauthenticated(reason: string): SealpostError {
  return new SealpostError('SP_ERR_AUTH_UNAUTHENTICATED', 'Missing or invalid credentials', { logDetail: { reason } });
}

/**
 * Server-side operator sessions (issue 11): only the token's SHA-256 is stored; each request
 * re-reads the session and the member's current role, so a revocation, a removal or a role
 * change takes effect at the next request.
 */
export class SessionService {
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly sessions: SessionRepository,
    private readonly operators: OperatorRepository,
    private readonly limits: SessionLimits,
    private readonly now: () => number,
    private readonly audited: { db: Kysely<Database>; audit: AuditRecorder },
  ) {}

  private issued(session: SessionRecord, token: string): IssuedSession {
    return { session, token, csrfToken: csrfTokenFor(token), setCookie: sessionCookie(token, Math.ceil(this.limits.absoluteMs / 1000)) };
  }

  /**
   * A new session for an operator who has just proved who they are (password, OIDC or SAML).
   * With `secondFactorSatisfied` false the session reaches only the second-factor and enrolment
   * routes until `completeSecondFactor`.
   */
  async issue(input: { tenantId: string; operatorId: string; method: SessionMethod; secondFactorSatisfied: boolean }, db?: Kysely<Database>): Promise<IssuedSession> {
    const token = newSessionToken();
    const now = this.now();
    const session: SessionRecord = { id: newId('session', now), ...input, enrolmentOnly: false, createdAt: now, lastSeenAt: now, revokedAt: null };
    await this.sessions.insert(session, tokenSha256(token), db);
    return this.issued(session, token);
  }

  private expired(session: SessionRecord, now: number): string | undefined {
    if (session.revokedAt !== null) return 'revoked';
    if (now - session.lastSeenAt > this.limits.idleMs) return 'idle timeout';
    if (now - session.createdAt > this.limits.absoluteMs) return 'absolute timeout';
    return undefined;
  }

  /** The principal behind a session cookie, or 401 (unknown, revoked, expired, no longer a member: all alike). */
  async authenticate(token: string): Promise<SessionPrincipal> {
    const session = await this.sessions.findByTokenHash(tokenSha256(token));
    if (!session) throw unauthenticated('unknown session');
    const now = this.now();
    const ended = this.expired(session, now);
    if (ended) throw unauthenticated(`session ${session.id}: ${ended}`);
    const member = await this.operators.member(session.tenantId, session.operatorId);
    if (!member) throw unauthenticated(`session ${session.id}: no longer a member`);
    if (now - (this.lastTouched.get(session.id) ?? session.lastSeenAt) >= LAST_SEEN_RESOLUTION_MS) {
      // Bounded: forgetting only costs an extra write.
      if (this.lastTouched.size >= MAX_TOUCH_ENTRIES) this.lastTouched.clear();
      this.lastTouched.set(session.id, now);
      await this.sessions.touch(session.id, now);
    }
    return {
      kind: 'session',
      tenantId: session.tenantId,
      sessionId: session.id,
      operatorId: session.operatorId,
      role: member.role,
      method: session.method,
      secondFactorSatisfied: session.secondFactorSatisfied,
      enrolmentOnly: session.enrolmentOnly,
      permissions: new Set(ROLE_PERMISSIONS[member.role]),
      actor: { type: 'operator', id: session.operatorId },
      rateKey: `session:${session.id}`,
      csrfToken: csrfTokenFor(token),
    };
  }

  /** Marks the second factor done and rotates the token: the pre-2FA token is worth nothing after. */
  async completeSecondFactor(principal: SessionPrincipal): Promise<IssuedSession> {
    return this.rotate(principal, 'satisfied');
  }

  /** The operator proved a factor the policy no longer accepts: rotates the token, allowing enrolment only. */
  async allowEnrolmentOnly(principal: SessionPrincipal): Promise<IssuedSession> {
    return this.rotate(principal, 'enrolment-only');
  }

  async rotate(principal: SessionPrincipal, state?: 'satisfied' | 'enrolment-only'): Promise<IssuedSession> {
    const token = newSessionToken();
    const now = this.now();
    if (!(await this.sessions.rotate(principal.tenantId, principal.sessionId, tokenSha256(token), now, state))) {
      throw unauthenticated(`session ${principal.sessionId} ended during rotation`);
    }
    const session: SessionRecord = {
      id: principal.sessionId,
      tenantId: principal.tenantId,
      operatorId: principal.operatorId,
      method: principal.method,
      secondFactorSatisfied: state === undefined ? principal.secondFactorSatisfied : state === 'satisfied',
      enrolmentOnly: state === undefined ? principal.enrolmentOnly : state === 'enrolment-only',
      createdAt: 0,
      lastSeenAt: now,
      revokedAt: null,
    };
    return this.issued(session, token);
  }

  /** One's own live sessions in this tenant. */
  list(principal: SessionPrincipal): Promise<SessionRecord[]> {
    const now = this.now();
    return this.sessions.listActive(principal.tenantId, principal.operatorId, { idle: now - this.limits.idleMs, absolute: now - this.limits.absoluteMs });
  }

  /** Revokes one of one's own sessions (or, with `id` the current one, logs out); `session.revoked`. */
  async revoke(principal: SessionPrincipal, id: string, reason: 'logout' | 'revoked'): Promise<void> {
    const { db, audit } = this.audited;
    const done = await db.transaction().execute(async (tx) => {
      const revoked = await this.sessions.revoke(principal.tenantId, principal.operatorId, id, this.now(), tx);
      if (revoked) await audit(tx, { tenant: principal.tenantId, actor: principal.actor, action: 'session.revoked', resource: id, details: { reason } });
      return revoked;
    });
    if (!done) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such session');
  }

  /** Ends every session of an operator in a tenant at once (member removed), inside the caller's transaction. */
  revokeAllOf(tenantId: string, operatorId: string, tx: Kysely<Database>): Promise<number> {
    return this.sessions.revokeAll(tenantId, operatorId, this.now(), tx);
  }

  /** Ends every session of an operator everywhere (password reset). */
  revokeEverywhere(operatorId: string, tx: Kysely<Database>): Promise<void> {
    return this.sessions.revokeEverywhere(operatorId, this.now(), tx);
  }

  setChallenge(principal: SessionPrincipal, challenge: string): Promise<void> {
    return this.sessions.setChallenge(principal.tenantId, principal.sessionId, challenge);
  }

  takeChallenge(principal: SessionPrincipal): Promise<string | null> {
    return this.sessions.takeChallenge(principal.tenantId, principal.sessionId);
  }
}
