import type { Kysely } from 'kysely';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { Principal } from '../principal.js';
import type { TenantRepository } from '../tenant.repository.js';
import type { PolicyRepository, TenantPolicy } from './policy.repository.js';

/** The plan on which 2FA is part of the contract and cannot be turned off (the seed's top plan). */
export const PLAN_WITH_MANDATORY_2FA = 'operation';

export type PolicyChange = Partial<Pick<TenantPolicy, 'enforce2fa' | 'webauthnOnly' | 'ssoOnly' | 'ssoDefaultRole'>>;

/** Tenant security policies (docs/identity.md). The SSO flows read `ssoOnly` and `ssoDefaultRole`; which IdP values count as MFA is the SSO setting's rule (sso/mfa-rule.ts). */
export class PolicyService {
  constructor(
    private readonly policies: PolicyRepository,
    private readonly tenants: TenantRepository,
    private readonly now: () => number,
    private readonly audited: { db: Kysely<Database>; audit: AuditRecorder },
  ) {}

  get(tenantId: string): Promise<TenantPolicy> {
    return this.policies.find(tenantId);
  }

  async update(by: Principal, change: PolicyChange): Promise<TenantPolicy> {
    const tenant = await this.tenants.find(by.tenantId);
    if (!tenant) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such tenant');
    if (change.enforce2fa === false && tenant.plan === PLAN_WITH_MANDATORY_2FA) {
      throw new SealpostError('SP_ERR_POLICY_LOCKED', `enforce_2fa cannot be turned off on the ${PLAN_WITH_MANDATORY_2FA} plan`);
    }
    const before = await this.policies.find(by.tenantId);
    const after: TenantPolicy = { ...before, ...change, updatedAt: this.now() };
    const changed = (Object.keys(change) as (keyof PolicyChange)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    await this.audited.db.transaction().execute(async (tx) => {
      await this.policies.save(by.tenantId, after, this.now(), tx);
      await this.audited.audit(tx, {
        tenant: by.tenantId,
        actor: by.actor,
        action: 'policy.changed',
        details: {
          changed,
          enforce_2fa: after.enforce2fa,
          webauthn_only: after.webauthnOnly,
          sso_only: after.ssoOnly,
          sso_default_role: after.ssoDefaultRole,
        },
      });
    });
    return after;
  }
}
