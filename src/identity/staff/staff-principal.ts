import type { AuditActor } from '../../audit/audit-event.js';

/** A staff member on the staff API (`/staff/v1`): the deployment's, not any tenant's. */
export interface StaffConsolePrincipal {
  readonly kind: 'staff_console';
  readonly staffId: string;
  readonly email: string;
  readonly sessionId: string;
  /** OIDC alone reaches only the WebAuthn step; everything else needs WebAuthn with user verification too. */
  readonly webauthnSatisfied: boolean;
  readonly csrfToken: string;
  readonly actor: AuditActor;
  readonly rateKey: string;
}
