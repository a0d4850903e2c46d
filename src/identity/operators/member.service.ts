import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { Logger } from '../../logging/logger.js';
import { mailNotConfigured, type OutboundMailer } from '../../mail/outbound-mailer.js';
import type { ApiKeyRepository } from '../api-key.repository.js';
import { roleRank, type Role } from '../permissions.js';
import type { SessionPrincipal } from '../principal.js';
import { tokenSha256 } from '../sessions/session-cookie.js';
import type { SessionService } from '../sessions/session.service.js';
import type { PolicyRepository } from '../policies/policy.repository.js';
import type { Member, OneTimePurpose, OperatorRepository } from './operator.repository.js';
import { assertAcceptablePassword, hashPassword } from './password.js';

const HOUR_MS = 3_600_000;
/** How long a one-time link works: an invite waits for its reader; a reset link is short-lived. */
export const LINK_LIFETIME_MS: Readonly<Record<OneTimePurpose, number>> = { setup: 7 * 24 * HOUR_MS, reset: HOUR_MS };

export type KeyDisposition = 'revoke' | 'hand_over';

export interface MemberServiceDeps {
  readonly operators: OperatorRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly sessions: SessionService;
  readonly policies: PolicyRepository;
  readonly mailer: OutboundMailer;
  /** Base of the links in mail (SEALPOST_PUBLIC_URL). */
  readonly publicUrl: string;
  readonly now: () => number;
  readonly db: Kysely<Database>;
  readonly audit: AuditRecorder;
  readonly logger: Logger;
}

function escalation(message: string): SealpostError {
  return new SealpostError('SP_ERR_MEMBER_ROLE_ESCALATION', message);
}

/**
 * The people of a tenant: operators created by the CLI, by invite or just in time by SSO;
 * their roles; their removal; and their one-time password links (docs/identity.md).
 */
export class MemberService {
  constructor(private readonly deps: MemberServiceDeps) {}

  private get base(): string {
    return this.deps.publicUrl.replace(/\/$/, '');
  }

  /** The link a person opens; the token is in the fragment, so it reaches no server log or Referer. */
  linkFor(purpose: OneTimePurpose, token: string): string {
    return `${this.base}/console/password/${purpose}#token=${token}`;
  }

  private async newLink(purpose: OneTimePurpose, tenantId: string, operatorId: string, tx: Kysely<Database>): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = this.deps.now();
    await this.deps.operators.insertToken({ id: newId('operatorToken', now), purpose, tenantId, operatorId, expiresAt: now + LINK_LIFETIME_MS[purpose], usedAt: null }, tokenSha256(token), now, tx);
    return this.linkFor(purpose, token);
  }

  get(tenantId: string, operatorId: string): Promise<Member | undefined> {
    return this.deps.operators.member(tenantId, operatorId);
  }

  list(tenantId: string): Promise<Member[]> {
    return this.deps.operators.members(tenantId);
  }

  /**
   * Creates an operator (or adds an existing one) to a tenant with a role and returns a one-time
   * setup link when they have no password yet (`sealpost operators create`).
   */
  async createOperator(tenantId: string, email: string, role: Role, actor: AuditActor): Promise<{ operatorId: string; link: string | null; created: boolean }> {
    return this.deps.db.transaction().execute(async (tx) => {
      const { operatorId, created, hasPassword } = await this.addMember(tenantId, email, role, tx);
      const link = hasPassword ? null : await this.newLink('setup', tenantId, operatorId, tx);
      await this.deps.audit(tx, { tenant: tenantId, actor, action: 'operator.created', resource: operatorId, details: { role, created } });
      return { operatorId, link, created };
    });
  }

  private async addMember(tenantId: string, email: string, role: Role, tx: Kysely<Database>): Promise<{ operatorId: string; created: boolean; hasPassword: boolean }> {
    const now = this.deps.now();
    let operator = await this.deps.operators.findByEmail(email, tx);
    const created = operator === undefined;
    if (!operator) {
      operator = { id: newId('operator', now), email, createdAt: now };
      await this.deps.operators.insertOperator(operator, tx);
    } else if (await this.deps.operators.member(tenantId, operator.id, tx)) {
      throw new SealpostError('SP_ERR_MEMBER_EXISTS', 'This e-mail already belongs to a member of this tenant');
    }
    await this.deps.operators.addMember(tenantId, operator.id, role, now, tx);
    const login = created ? undefined : await this.deps.operators.findForLogin(email);
    return { operatorId: operator.id, created, hasPassword: Boolean(login?.passwordHash) };
  }

  /** Only owners grant owner; nobody grants a role above their own. */
  private assertMayGrant(by: SessionPrincipal | { role: Role }, role: Role): void {
    if (roleRank(role) > roleRank(by.role)) throw escalation(`A ${by.role} cannot grant the ${role} role`);
  }

  /** Invites a person by e-mail with a role: a setup link by mail (or a notice, if they have a password already). */
  async invite(by: SessionPrincipal, email: string, role: Role): Promise<Member> {
    this.assertMayGrant(by, role);
    if (!this.deps.mailer.configured) throw mailNotConfigured();
    const { operatorId, link } = await this.deps.db.transaction().execute(async (tx) => {
      const added = await this.addMember(by.tenantId, email, role, tx);
      const setup = added.hasPassword ? null : await this.newLink('setup', by.tenantId, added.operatorId, tx);
      await this.deps.audit(tx, { tenant: by.tenantId, actor: by.actor, action: 'member.invited', resource: added.operatorId, details: { role, new_account: added.created } });
      return { operatorId: added.operatorId, link: setup };
    });
    await this.deps.mailer.send({
      to: email,
      subject: 'You have been invited to Sealpost',
      text: link
        ? `You have been invited to a Sealpost tenant as ${role}.\n\nChoose your password here (the link works once, for 7 days):\n${link}\n`
        : `You have been added to a Sealpost tenant as ${role}. Sign in as usual.\n`,
    });
    return (await this.deps.operators.member(by.tenantId, operatorId))!;
  }

  private async target(by: SessionPrincipal, operatorId: string): Promise<Member> {
    const member = await this.deps.operators.member(by.tenantId, operatorId);
    if (!member) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such member');
    // Acting on someone above oneself (an admin on an owner) is escalation too.
    if (roleRank(member.role) > roleRank(by.role)) throw escalation(`A ${by.role} cannot change a member whose role is ${member.role}`);
    return member;
  }

  private async keepAnOwner(tenantId: string, member: Member, tx: Kysely<Database>): Promise<void> {
    if (member.role === 'owner' && (await this.deps.operators.countOwners(tenantId, tx)) <= 1) {
      throw new SealpostError('SP_ERR_MEMBER_LAST_OWNER', 'A tenant keeps at least one owner');
    }
  }

  /**
   * Changes a member's role. A narrower role applies at their next request (sessions read the
   * role each time); a wider one ends their sessions, so the new privilege comes only with a new
   * token after a fresh sign-in with the second factor (a copied old token never gains it).
   */
  async changeRole(by: SessionPrincipal, operatorId: string, role: Role): Promise<Member> {
    const member = await this.target(by, operatorId);
    this.assertMayGrant(by, role);
    await this.deps.db.transaction().execute(async (tx) => {
      if (roleRank(role) < roleRank(member.role)) await this.keepAnOwner(by.tenantId, member, tx);
      await this.deps.operators.setRole(by.tenantId, operatorId, role, tx);
      const promoted = roleRank(role) > roleRank(member.role);
      const sessionsRevoked = promoted ? await this.deps.sessions.revokeAllOf(by.tenantId, operatorId, tx) : 0;
      await this.deps.audit(tx, { tenant: by.tenantId, actor: by.actor, action: 'member.role_changed', resource: operatorId, details: { from: member.role, to: role, sessions_revoked: sessionsRevoked } });
    });
    return { ...member, role };
  }

  /**
   * Removes a member: their sessions in the tenant end at once, and the API keys they created are
   * revoked, or (owners only) handed to the tenant, where they keep working owned by no person.
   */
  async remove(by: SessionPrincipal, operatorId: string, keys: KeyDisposition): Promise<{ sessionsRevoked: number; keys: number }> {
    const member = await this.target(by, operatorId);
    if (keys === 'hand_over' && by.role !== 'owner') throw escalation('Only an owner may hand a member\'s keys to the tenant');
    const now = this.deps.now();
    return this.deps.db.transaction().execute(async (tx) => {
      await this.keepAnOwner(by.tenantId, member, tx);
      await this.deps.operators.removeMember(by.tenantId, operatorId, tx);
      const sessionsRevoked = await this.deps.sessions.revokeAllOf(by.tenantId, operatorId, tx);
      let count: number;
      if (keys === 'hand_over') {
        count = await this.deps.apiKeys.handOver(by.tenantId, operatorId, tx);
      } else {
        const live = await this.deps.apiKeys.liveCreatedBy(by.tenantId, operatorId, now, tx);
        for (const key of live) {
          await this.deps.apiKeys.revoke(by.tenantId, key.id, now, tx);
          await this.deps.audit(tx, { tenant: by.tenantId, actor: by.actor, action: 'api_key.revoked', resource: key.id, details: { reason: 'member removed' } });
        }
        count = live.length;
      }
      await this.deps.audit(tx, {
        tenant: by.tenantId,
        actor: by.actor,
        action: 'member.removed',
        resource: operatorId,
        details: { role: member.role, sessions_revoked: sessionsRevoked, keys: count, key_action: keys },
      });
      return { sessionsRevoked, keys: count };
    });
  }

  /** Sets a password from a one-time setup or reset link. A reset ends every session of the operator. */
  async setPassword(purpose: OneTimePurpose, token: string, password: string): Promise<void> {
    assertAcceptablePassword(password);
    const invalid = (reason: string): SealpostError => new SealpostError('SP_ERR_AUTH_LINK_INVALID', 'This link is invalid, used or expired', { logDetail: { reason } });
    const link = await this.deps.operators.findToken(tokenSha256(token));
    const now = this.deps.now();
    if (!link || link.purpose !== purpose) throw invalid('unknown link');
    if (link.usedAt !== null) throw invalid('used link');
    if (link.expiresAt <= now) throw invalid('expired link');
    const hash = await hashPassword(password);
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.deps.operators.useToken(link.id, now, tx))) throw invalid('link used concurrently');
      await this.deps.operators.setPasswordHash(link.operatorId, hash, tx);
      await this.deps.operators.voidTokens(link.operatorId, now, tx);
      if (purpose === 'reset') await this.deps.sessions.revokeEverywhere(link.operatorId, tx);
      await this.deps.audit(tx, { tenant: link.tenantId, actor: { type: 'operator', id: link.operatorId }, action: 'password.set', resource: link.operatorId, details: { via: purpose } });
    });
  }

  /**
   * Mails a reset link if the e-mail belongs to an operator with a tenant; answers the same in
   * every case, and sends after answering, so neither the answer nor its timing tells whether
   * the account exists.
   */
  async requestReset(email: string): Promise<void> {
    if (!this.deps.mailer.configured) throw mailNotConfigured();
    const operator = await this.deps.operators.findByEmail(email);
    const tenantId = operator ? (await this.deps.operators.tenantsOf(operator.id))[0] : undefined;
    if (!operator || !tenantId) return;
    const policy = await this.deps.policies.find(tenantId);
    if (policy.ssoOnly) return;
    const link = await this.deps.db.transaction().execute(async (tx) => {
      const made = await this.newLink('reset', tenantId, operator.id, tx);
      await this.deps.audit(tx, { tenant: tenantId, actor: { type: 'operator', id: operator.id }, action: 'password.reset_requested', resource: operator.id });
      return made;
    });
    void this.deps.mailer
      .send({ to: operator.email, subject: 'Reset your Sealpost password', text: `Someone asked to reset your Sealpost password. If it was you, choose a new one here (the link works once, for an hour):\n${link}\n\nIf it was not you, ignore this message.\n` })
      .catch((err: unknown) => this.deps.logger.error({ err, operator: operator.id }, 'password reset mail could not be sent'));
  }

  /**
   * For SSO (src/identity/sso/): the operator for an e-mail the tenant's IdP verified, created
   * just in time with the tenant policy's `sso_default_role` if the address is new to the tenant.
   */
  async findOrCreateForSso(tenantId: string, verifiedEmail: string, via: 'oidc' | 'saml'): Promise<{ operatorId: string; role: Role; created: boolean }> {
    const operator = await this.deps.operators.findByEmail(verifiedEmail);
    if (operator) {
      const member = await this.deps.operators.member(tenantId, operator.id);
      if (member) return { operatorId: operator.id, role: member.role, created: false };
    }
    const role = (await this.deps.policies.find(tenantId)).ssoDefaultRole;
    return this.deps.db.transaction().execute(async (tx) => {
      const added = await this.addMember(tenantId, verifiedEmail, role, tx);
      await this.deps.audit(tx, { tenant: tenantId, actor: { type: 'system', id: via }, action: 'operator.created', resource: added.operatorId, details: { role, created: added.created, via } });
      return { operatorId: added.operatorId, role, created: true };
    });
  }
}
