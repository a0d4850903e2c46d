import type { AuditActor } from '../audit/audit-event.js';
import type { Permission, Role } from './permissions.js';
import type { Scope } from './scopes.js';
import type { SessionMethod } from './sessions/session.repository.js';

interface PrincipalBase {
  readonly tenantId: string;
  /** What the permission table is checked against. */
  readonly permissions: ReadonlySet<Permission>;
  /** Who the audit log names: the key's prefix, or the operator's id. */
  readonly actor: AuditActor;
  /** The per-credential rate-limit bucket. */
  readonly rateKey: string;
}

export interface ApiKeyPrincipal extends PrincipalBase {
  readonly kind: 'api_key';
  readonly apiKeyId: string;
  readonly prefix: string;
  readonly scopes: readonly Scope[];
  readonly keyCreatedAt: number;
}

export interface SessionPrincipal extends PrincipalBase {
  readonly kind: 'session';
  readonly sessionId: string;
  readonly operatorId: string;
  readonly role: Role;
  readonly method: SessionMethod;
  readonly secondFactorSatisfied: boolean;
  /** Proved a factor the policy no longer accepts: may enrol an accepted one, nothing else. */
  readonly enrolmentOnly: boolean;
  /** The CSRF token state-changing requests of this session must echo (session-cookie.ts). */
  readonly csrfToken: string;
}

/** Who makes an API call: an API key or an operator session, checked against the same permission table. */
export type Principal = ApiKeyPrincipal | SessionPrincipal;
