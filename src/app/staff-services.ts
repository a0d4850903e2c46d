import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { SealpostConfig } from '../config/config.schema.js';
import type { Logger } from '../logging/logger.js';
import type { OutboundMailer } from '../mail/outbound-mailer.js';
import { guardedIdpFetch } from '../identity/sso/idp-fetch.js';
import { GrantRepository } from '../identity/staff/grant.repository.js';
import { GrantService } from '../identity/staff/grant.service.js';
import { StaffRepository } from '../identity/staff/staff.repository.js';
import { StaffSignInService } from '../identity/staff/staff-sign-in.service.js';
import type { AppContext } from './app-context.js';

/** Staff of the deployment (src/identity/staff/): sign-in and just-in-time grants, built once. */
export interface StaffServices {
  readonly signIn: StaffSignInService;
  readonly grants: GrantService;
  /** Closes the connections to the staff IdP. */
  close(): Promise<void>;
}

export function createStaffServices(
  context: AppContext,
  options: {
    readonly config: SealpostConfig;
    readonly publicUrl: string;
    readonly origin: string;
    readonly now: () => number;
    readonly mailer: OutboundMailer;
    readonly logger: Logger;
    readonly signInAudit: AuditRecorder;
    readonly grantAudit: AuditRecorder;
  },
): StaffServices {
  const { db } = context.database;
  const { config } = options;
  const staff = new StaffRepository(db, context.cipher);
  // The same SSRF-guarded, size-bounded fetch as tenants' IdPs: one mechanism for every IdP.
  const idp = guardedIdpFetch(config.ssoAllowPrivateIdp);
  const oidc =
    config.staffOidcIssuer && config.staffOidcClientId && config.staffOidcClientSecret
      ? { issuer: config.staffOidcIssuer, clientId: config.staffOidcClientId, clientSecret: config.staffOidcClientSecret }
      : undefined;
  const signIn = new StaffSignInService(staff, {
    oidc,
    redirectUri: `${options.publicUrl}/staff/v1/auth/oidc/callback`,
    fetch: idp.fetch,
    // The configuration admits plain http:// only on loopback (config.load.ts).
    allowHttpIdp: oidc !== undefined && new URL(oidc.issuer).protocol === 'http:',
    rp: { rpID: new URL(options.publicUrl).hostname, origin: options.origin },
    now: options.now,
    db,
    audit: options.signInAudit,
  });
  const grants = new GrantService(new GrantRepository(db), staff, context.tenantRepository, {
    db,
    audit: options.grantAudit,
    mailer: options.mailer,
    now: options.now,
    logger: options.logger,
    publicUrl: options.publicUrl,
  });
  return { signIn, grants, close: () => idp.close() };
}
