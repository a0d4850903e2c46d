import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { PreparedWrite } from '../../db/prepared-write.js';
import type { VerifiedSsoIdentity } from './sso-sign-in.port.js';

/** The audit events of SSO logins: `sso.login_succeeded` before the sign-in port is called, `sso.login_refused` on any refusal. */
export class SsoLoginAudit {
  constructor(
    /** Commits one write in its own transaction (the group committer). */
    private readonly commit: (write: PreparedWrite) => Promise<void>,
    private readonly audit: AuditRecorder,
  ) {}

  succeeded(identity: VerifiedSsoIdentity): Promise<void> {
    return this.commit((tx) =>
      this.audit(tx, {
        tenant: identity.tenantId,
        actor: { type: 'system', id: `sso-${identity.provider}` },
        action: 'sso.login_succeeded',
        details: { protocol: identity.provider, email: identity.email, subject: identity.subject.slice(0, 256), mfa_asserted: identity.mfaAsserted },
      }),
    );
  }

  /** Only for tenants with the protocol configured: refusals cannot be written for made-up tenant ids. */
  refused(tenantId: string, protocol: 'oidc' | 'saml', refusal: { code: string; reason: string; library_code?: string }, ip: string): Promise<void> {
    return this.commit((tx) =>
      this.audit(tx, { tenant: tenantId, actor: { type: 'system', id: `sso-${protocol}` }, action: 'sso.login_refused', details: { protocol, ...refusal, ip: ip.slice(0, 64) } }),
    );
  }
}
