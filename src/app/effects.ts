import type { AuditAction, AuditActor, AuditEvent } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { DeliveryHooks, DeliverySucceededInfo } from '../delivery/request-signer.js';
import type { IngestHooks } from '../ingest/payload.service.js';
import { auditedReceipts } from '../receipts/receipt-audit.js';
import type { ReceiptService } from '../receipts/receipt.service.js';
import type { AppContext } from './app-context.js';

/**
 * Every side effect that commits with an action, declared once. Each effect is a prepared
 * write (src/db/prepared-write.ts: computed, sealed and signed before the transaction, stored
 * inside it) and names the audit actions it may emit; every action of AUDIT_ACTIONS is declared
 * by exactly one effect (test/app/effects.test.ts), except those in NO_FEATURE_YET.
 */
interface EffectDeclaration {
  readonly actions: readonly AuditAction[];
  /** Where the write is implemented. */
  readonly writer: string;
}

export const EFFECTS = {
  outbox: { actions: [], writer: 'delivery/outbox.repository.ts (cappedEnqueue: one pending delivery per matching destination)' },
  receipt: { actions: ['receipt.issued'], writer: 'receipts/receipt-audit.ts auditedReceipts (the signed receipt row, its event, its log index)' },
  apiRequest: { actions: ['api.request', 'api.refused'], writer: 'audit/audit-request.hook.ts (in the ingest transaction, or after the response)' },
  tenant: { actions: ['tenant.created', 'plan.changed'], writer: 'identity/tenant.service.ts (plan changes: the staff API), ops/deployment-tenant/deployment-tenant.ts (the deployment tenant, at start)' },
  apiKey: { actions: ['api_key.created', 'api_key.rotated', 'api_key.revoked', 'api_key.refused'], writer: 'identity/api-key.service.ts' },
  destination: {
    actions: ['destination.created', 'destination.updated', 'destination.disabled', 'destination.deleted', 'destination.replayed', 'destination.tested'],
    writer:
      'delivery/destination.service.ts (API), delivery/attempt.repository.ts (the worker gives up on a destination), delivery/destination-test.service.ts (after the test send); events in delivery/destination-audit.ts',
  },
  delivery: { actions: ['delivery.retried'], writer: 'delivery/delivery.service.ts retryMany (with the deliveries made due)' },
  inbox: { actions: ['inbox.created', 'inbox.deleted'], writer: 'ingest/smtp/inbox.service.ts' },
  signingKey: { actions: ['signing_key.rotated'], writer: 'crypto/signing-key.service.ts' },
  kek: { actions: ['kek.rotated'], writer: 'kekRotatedEvent below (scheduler and `sealpost keys rotate --kek`)' },
  retention: { actions: ['retention.purged'], writer: 'audit/retention.ts' },
  auditExport: { actions: ['audit.exported'], writer: 'audit/audit.service.ts' },
  login: { actions: ['login.succeeded', 'login.failed', 'second_factor.verified'], writer: 'identity/sessions/login.service.ts' },
  session: { actions: ['session.revoked'], writer: 'identity/sessions/session.service.ts' },
  secondFactor: { actions: ['second_factor.enrolled', 'recovery_codes.generated'], writer: 'identity/second-factor/second-factor.service.ts' },
  member: {
    actions: ['operator.created', 'member.invited', 'member.role_changed', 'member.removed', 'password.set', 'password.reset_requested'],
    writer: 'identity/operators/member.service.ts (members, one-time links, passwords)',
  },
  policy: { actions: ['policy.changed'], writer: 'identity/policies/policy.service.ts' },
  ssoConfig: {
    actions: ['sso.oidc_configured', 'sso.oidc_removed', 'sso.saml_configured', 'sso.saml_removed', 'sso.domain_added', 'sso.domain_verified', 'sso.domain_removed'],
    writer: 'identity/sso/sso-config.service.ts (with the sealed setting or the domain row)',
  },
  ssoLogin: { actions: ['sso.login_succeeded', 'sso.login_refused'], writer: 'identity/sso/sso-login.audit.ts (before the sign-in port is called, or on refusal)' },
  tenantSettings: { actions: ['tenant.retention_changed'], writer: 'ops/lifecycle/tenant-settings.service.ts' },
  payloadRetention: { actions: ['payload.purged'], writer: 'ops/lifecycle/payload-retention.repository.ts deletePayloads (each batch with its event)' },
  tenantExport: { actions: ['tenant.exported'], writer: 'ops/lifecycle/tenant-export.service.ts (before the archive streams)' },
  legacyReseal: { actions: ['legacy_data.resealed'], writer: 'ops/lifecycle/legacy-reseal.ts (after the sweep)' },
  tenantErasure: { actions: ['tenant.erasure_requested', 'tenant.erased'], writer: 'ops/lifecycle/tenant-erasure.service.ts (with the revocations and stops of tenant-erasure.repository.ts)' },
  staffSignIn: {
    actions: ['staff.added', 'staff.disabled', 'staff.credential_enrolled', 'staff.signed_in', 'staff.sign_in_refused'],
    writer: 'identity/staff/staff-sign-in.service.ts (with the staff row, the credential, or the session)',
  },
  staffGrant: {
    actions: ['staff.access_requested', 'staff.access_approved', 'staff.access_denied', 'staff.access_revoked', 'staff.access_expired', 'staff.break_glass'],
    writer: 'identity/staff/grant.service.ts (with the grant row, in the tenant\'s log)',
  },
  backup: {
    actions: ['backup.created', 'backup.restored', 'backup.scrubbed', 'backup.pruned', 'backup.drilled'],
    writer: 'ops/backup/backup.service.ts (the snapshot or drill row with its event; a restore records into the restored database)',
  },
  keyRecovery: { actions: ['keys.recovery_exported', 'keys.recovery_imported'], writer: 'ops/backup/keyring-recovery.ts (via `sealpost keys export-recovery` / `import-recovery`)' },
  securityContacts: { actions: ['security_contacts.changed'], writer: 'ops/security-contacts/security-contact.service.ts (with the sealed list)' },
  breach: {
    actions: ['breach.declared', 'breach.notice_sent', 'breach.notice_acknowledged', 'breach.deadline_alert'],
    writer: 'ops/breach/breach.service.ts (with the breach and notice rows, or the guarded update of a notice)',
  },
  securityKey: { actions: ['security_key.created', 'security_key.imported'], writer: 'trust/security-key.service.ts (with the key row, via `sealpost security-key create` / `import`)' },
  complianceEvidence: { actions: ['compliance.evidence_exported'], writer: 'trust/evidence.service.ts (before the bundle is written, via `sealpost compliance evidence`)' },
  status: {
    actions: [
      'status.component_changed',
      'status.incident_opened',
      'status.incident_updated',
      'status.postmortem_published',
      'status.postmortem_waived',
      'status.maintenance_scheduled',
      'status.maintenance_cancelled',
    ],
    writer: 'status/component-status.service.ts (probe samples), status/maintenance.service.ts, status/incidents/incident.service.ts (with the row and its signed document)',
  },
} as const satisfies Record<string, EffectDeclaration>;

export type EffectName = keyof typeof EFFECTS;

/** Each action and the effects that commit in its transaction. */
export const COMMITS_WITH = {
  ingest: ['payload rows', 'outbox', 'receipt', 'apiRequest'],
  deliverySucceeded: ['attempt row', 'receipt'],
  deliveryGaveUp: ['attempt row', 'destination'],
  tenantCreated: ['tenant', 'apiKey'],
  apiKeyChanged: ['apiKey'],
  destinationChanged: ['destination'],
  deliveriesRetried: ['delivery'],
  inboxChanged: ['inbox'],
  signingKeyRotated: ['signingKey'],
  kekRotated: ['kek'],
  auditPurged: ['retention'],
  auditExported: ['auditExport'],
  login: ['login'],
  sessionRevoked: ['session'],
  // Removing a member ends their sessions and revokes (or hands over) their keys in one transaction.
  memberChanged: ['member', 'session', 'apiKey'],
  secondFactorEnrolled: ['secondFactor'],
  policyChanged: ['policy'],
  ssoConfigChanged: ['ssoConfig'],
  ssoLogin: ['ssoLogin'],
  tenantErased: ['tenantErasure'],
  retentionChanged: ['tenantSettings'],
  payloadsPurged: ['payloadRetention'],
  tenantExported: ['tenantExport'],
  legacyResealed: ['legacyReseal'],
  staffSignIn: ['staffSignIn'],
  staffGrant: ['staffGrant'],
  planChanged: ['tenant'],
  backupRecorded: ['backup'],
  keyRecovery: ['keyRecovery'],
  securityContactsChanged: ['securityContacts'],
  breachChanged: ['breach'],
  securityKeyChanged: ['securityKey'],
  evidenceExported: ['complianceEvidence'],
  statusChanged: ['status'],
} as const satisfies Record<string, readonly (EffectName | 'payload rows' | 'attempt row')[]>;

/** Declared actions with no feature yet. */
export const NO_FEATURE_YET = [] as const satisfies readonly AuditAction[];

/**
 * The recorder a service gets: it writes only the actions its effects declare, so an event
 * recorded outside this table fails loudly (in test/audit/audit-actions.test.ts) instead of
 * slipping into the log undeclared.
 */
export function recorderFor(record: AuditRecorder, ...effects: readonly EffectName[]): AuditRecorder {
  const allowed = new Set<AuditAction>(effects.flatMap((effect) => EFFECTS[effect].actions));
  return async (tx, event) => {
    if (!allowed.has(event.action)) throw new Error(`audit action ${event.action} is not declared by effect(s) ${effects.join(', ')} (src/app/effects.ts)`);
    await record(tx, event);
  };
}

/** `kek.rotated`, by the scheduler's yearly rotation or by `sealpost keys rotate --kek`. */
export function kekRotatedEvent(kek: string, actor: AuditActor, trigger?: string, tenantKeysResealed = 0): Omit<AuditEvent, 'time'> {
  const details = { kek, tenant_keys_resealed: tenantKeysResealed };
  return { tenant: null, actor, action: 'kek.rotated', details: trigger === undefined ? details : { ...details, trigger } };
}

/**
 * Ingest's `accepted` receipt: signed and sealed before the ingest transaction, stored inside
 * it. The receipt is what `POST /v1/payloads` answers with.
 */
export function acceptedReceiptHook(
  receipts: ReceiptService,
): (input: Parameters<NonNullable<IngestHooks['acceptedReceipt']>>[0]) => ReturnType<ReceiptService['prepareAccepted']> {
  return async (input) => receipts.prepareAccepted({ tenantId: input.tenantId, messageId: input.payloadId, bodySha256: input.bodySha256, now: input.now });
}

/**
 * A successful attempt's `delivered` receipt: signed and sealed BEFORE the transaction that
 * marks the delivery succeeded, stored inside it only if the delivery really was marked
 * succeeded (the lease was still held). A prepared receipt never stored costs a signature.
 */
export function deliveredReceiptHook(receipts: ReceiptService): (info: DeliverySucceededInfo) => ReturnType<ReceiptService['prepareDelivered']> {
  return async (info) =>
    receipts.prepareDelivered({
      tenantId: info.tenantId,
      messageId: info.payloadId,
      deliveryId: info.deliveryId,
      destinationId: info.destinationId,
      attempt: info.attempt,
      status: info.statusCode,
      bodySha256: info.bodySha256,
    });
}

/** The prepared writes and scoped recorders the services of one process are built with. */
export interface Effects {
  /** What commits with an ingest: the outbox rows and the signed `accepted` receipt with its `receipt.issued` event. */
  readonly ingest: Pick<IngestHooks, 'enqueue' | 'acceptedReceipt'>;
  /** What commits with a delivery's state change: the `delivered` receipt; and the `destination.disabled` event on giving up. */
  readonly delivery: Required<Pick<DeliveryHooks, 'prepareSucceeded'>> & { readonly audit: AuditRecorder };
  readonly audit: {
    readonly tenants: AuditRecorder;
    readonly apiKeys: AuditRecorder;
    readonly destinations: AuditRecorder;
    readonly deliveries: AuditRecorder;
    readonly inboxes: AuditRecorder;
    readonly login: AuditRecorder;
    readonly sessions: AuditRecorder;
    readonly secondFactors: AuditRecorder;
    readonly members: AuditRecorder;
    readonly policies: AuditRecorder;
    readonly ssoConfig: AuditRecorder;
    readonly ssoLogins: AuditRecorder;
    readonly erasure: AuditRecorder;
    readonly tenantSettings: AuditRecorder;
    readonly payloadRetention: AuditRecorder;
    readonly tenantExport: AuditRecorder;
    readonly legacyReseal: AuditRecorder;
    readonly staffSignIn: AuditRecorder;
    readonly staffGrants: AuditRecorder;
    readonly securityContacts: AuditRecorder;
    readonly breaches: AuditRecorder;
    readonly securityKeys: AuditRecorder;
    readonly complianceEvidence: AuditRecorder;
    readonly status: AuditRecorder;
  };
}

export function declareEffects(context: AppContext, enqueue: IngestHooks['enqueue']): Effects {
  const { receipts, audit } = context;
  const record = audit.record;
  return {
    ingest: { enqueue, acceptedReceipt: auditedReceipts(acceptedReceiptHook(receipts.receipts), audit.log, receipts.repository) },
    delivery: {
      prepareSucceeded: auditedReceipts(deliveredReceiptHook(receipts.receipts), audit.log, receipts.repository),
      audit: recorderFor(record, 'destination'),
    },
    audit: {
      tenants: recorderFor(record, 'tenant', 'apiKey'),
      apiKeys: recorderFor(record, 'apiKey'),
      destinations: recorderFor(record, 'destination'),
      deliveries: recorderFor(record, 'delivery'),
      inboxes: recorderFor(record, 'inbox'),
      login: recorderFor(record, 'login'),
      sessions: recorderFor(record, 'session'),
      secondFactors: recorderFor(record, 'secondFactor'),
      members: recorderFor(record, 'member', 'session', 'apiKey'),
      policies: recorderFor(record, 'policy'),
      ssoConfig: recorderFor(record, 'ssoConfig'),
      ssoLogins: recorderFor(record, 'ssoLogin'),
      erasure: recorderFor(record, 'tenantErasure'),
      tenantSettings: recorderFor(record, 'tenantSettings'),
      payloadRetention: recorderFor(record, 'payloadRetention'),
      tenantExport: recorderFor(record, 'tenantExport'),
      legacyReseal: recorderFor(record, 'legacyReseal'),
      staffSignIn: recorderFor(record, 'staffSignIn'),
      staffGrants: recorderFor(record, 'staffGrant'),
      securityContacts: recorderFor(record, 'securityContacts'),
      breaches: recorderFor(record, 'breach'),
      securityKeys: recorderFor(record, 'securityKey'),
      complianceEvidence: recorderFor(record, 'complianceEvidence'),
      status: recorderFor(record, 'status'),
    },
  };
}
