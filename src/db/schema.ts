import type { Generated } from 'kysely';

/**
 * Table types for Kysely. Times are integer milliseconds since the epoch in both dialects
 * (SQLite has no timestamp type; one representation keeps queries portable); binary values
 * are `Buffer` (SQLite BLOB, PostgreSQL bytea).
 */

export interface DataKeysTable {
  /** Referenced from every ciphertext header. */
  id: string;
  /** `local` or `aws-kms`: which provider wrapped the key. */
  provider: string;
  /** Which master key (keyring version, KMS key ARN) wrapped it. */
  kek_ref: string;
  wrapped: Buffer;
  created_at: number;
  /** The tenant whose root key wrapped it (kek_ref `tenant:<id>` or its KMS key); null for the deployment's keys (0013). */
  tenant_id: string | null;
}

export interface TenantsTable {
  id: string;
  name: string;
  plan: string;
  created_at: number;
  /** Days payloads and their attachments, raw e-mail, deliveries and attempts are kept (0013). */
  retention_days: Generated<number>;
  /** Set when the tenant was crypto-shredded; the tenant is refused everywhere afterwards (0013). */
  erased_at: number | null;
  /** SHA-256 hex of the pending erasure confirmation token, its requesting API key and expiry (0013). */
  erasure_token_sha256: string | null;
  erasure_requested_by: string | null;
  erasure_expires_at: number | null;
  /** 'customer', or 'deployment' for the deployment's own tenant (at most one row; 0021). */
  kind: Generated<string>;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  prefix: string;
  secret_hash: Buffer;
  name: string;
  /** JSON array of scope names. */
  scopes: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  rotated_from: string | null;
  /** The operator who created the key (since 0011); null for keys made by the CLI, another key or before 0011. */
  created_by: string | null;
}

export interface PayloadsTable {
  id: string;
  tenant_id: string;
  type: string;
  channel: string;
  envelope_sealed: Buffer;
  body_sha256: string;
  size: number;
  received_at: number;
}

export interface AttachmentsTable {
  id: string;
  tenant_id: string;
  payload_id: string;
  meta_sealed: Buffer;
  size: number;
  sha256: string;
  blob_key: string;
  created_at: number;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  /** SHA-256 hex of tenant id and Idempotency-Key (payload.repository.ts); the key itself is never stored. */
  key_sha256: string;
  request_sha256: string;
  payload_id: string;
  response_sealed: Buffer;
  created_at: number;
}

export interface DestinationsTable {
  id: string;
  tenant_id: string;
  config_sealed: Buffer;
  /** JSON array of event types, or null for all. */
  event_types: string | null;
  enabled: number;
  timeout_ms: number;
  max_concurrency: number;
  failing_since: number | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'dead' | 'stopped';

export interface DeliveriesTable {
  id: string;
  tenant_id: string;
  payload_id: string;
  destination_id: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export interface DeliveryAttemptsTable {
  id: string;
  tenant_id: string;
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error_class: string | null;
  response_sealed: Buffer | null;
  worker: string;
}

export interface AuditEventsTable {
  /** Position in the one global log, from 0, gap-free. */
  log_index: number;
  tenant_id: string | null;
  occurred_at: number;
  actor_type: string | null;
  actor_id: string | null;
  action: string | null;
  resource: string | null;
  /** RFC 8785 canonical JSON of the event; null once purged by retention. */
  event: string | null;
  /** SHA-256(0x00 || event), RFC 9162 §2.1.1; kept after a purge. */
  leaf_hash: Buffer;
  /** SHA-256(previous chain_hash || leaf_hash). */
  chain_hash: Buffer;
  purged_at: number | null;
}

export interface AuditLogHeadTable {
  id: number;
  /** Number of events appended: the next index. */
  size: number;
}

export interface AuditLogKeysTable {
  id: string;
  name: string;
  /** Raw 32-byte Ed25519 public key. */
  public_key: Buffer;
  /** PKCS#8 DER, sealed by RecordCipher. */
  private_key_sealed: Buffer;
  is_current: number | null;
  created_at: number;
}

export interface AuditCheckpointsTable {
  tree_size: number;
  root_hash: Buffer;
  note: string;
  key_id: string;
  created_at: number;
  /** Checkpoints issued before this one (also signed in the note); null for those signed before migration 0008. */
  seq: number | null;
}

export type SigningKeyState = 'active' | 'replaced' | 'retired';

export interface SigningKeysTable {
  kid: string;
  /** The tenant whose webhooks and receipts the key signs; null for a legacy deployment-wide key (before migration 0007), which never signs again. */
  tenant_id: string | null;
  /** Raw 32-byte Ed25519 public key (the JWK `x`). */
  public_key: Buffer;
  /** PKCS#8 DER, sealed by RecordCipher; null once retired. */
  private_key_sealed: Buffer | null;
  state: SigningKeyState;
  created_at: number;
  activated_at: number;
  /** JWK `nbf`, in ms. */
  not_before: number;
  replaced_at: number | null;
  /** JWK `exp`, in ms: replaced_at + 90 days; null while active. */
  expires_at: number | null;
  retired_at: number | null;
}

export interface ReceiptsTable {
  id: string;
  tenant_id: string;
  message_id: string;
  kind: 'accepted' | 'delivered';
  delivery_id: string | null;
  /** Canonical JSON of the signed receipt, sealed by RecordCipher. */
  receipt_sealed: Buffer;
  issued_at: number;
  audit_index: number | null;
}

export type InboxDmarcPolicy = 'accept' | 'reject';

export interface InboxesTable {
  id: string;
  tenant_id: string;
  /**
   * Before 0010 the plain token; now the row's own id once the token is sealed (the column is
   * NOT NULL UNIQUE since 0005). A live inbox migrated by 0010 keeps its token here until the
   * repository first reads and seals it.
   */
  token: string;
  /** SHA-256 hex of the token (the local part of the address: lower-case base32, unique for ever); the SMTP lookup. */
  token_sha256: string;
  /** The token under the record cipher, for showing the address. */
  token_sealed: Buffer | null;
  dmarc_policy: InboxDmarcPolicy;
  created_at: number;
  deleted_at: number | null;
}

/** Requests counted per bucket and minute, shared by API processes (src/http/rate-limit.repository.ts). */
export interface RateLimitWindowsTable {
  bucket: string;
  /** Unix milliseconds of the minute's start. */
  window_start: number;
  count: number;
}

/** The people of a tenant (0011). Operators are global; membership and role are per tenant. */
export interface OperatorsTable {
  id: string;
  email: string;
  /** Lower-cased e-mail: the unique lookup key. */
  email_normalized: string;
  /** argon2id PHC string; null until set. */
  password_hash: string | null;
  created_at: number;
}

export interface TenantMembersTable {
  tenant_id: string;
  operator_id: string;
  role: string;
  created_at: number;
}

export interface OperatorSessionsTable {
  id: string;
  /** SHA-256 hex of the cookie's token; the token itself is never stored. */
  token_sha256: string;
  tenant_id: string;
  operator_id: string;
  method: string;
  /** 0 pending | 1 satisfied | 2 proved a factor the policy no longer accepts: may enrol an accepted one, nothing else. */
  second_factor_satisfied: number;
  created_at: number;
  last_seen_at: number;
  revoked_at: number | null;
  /** The pending WebAuthn challenge (0012). */
  webauthn_challenge: string | null;
}

/** One-time links: first password (invite, CLI) and password reset. */
export interface OperatorTokensTable {
  id: string;
  token_sha256: string;
  purpose: string;
  tenant_id: string;
  operator_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface TenantPoliciesTable {
  tenant_id: string;
  enforce_2fa: number;
  webauthn_only: number;
  sso_only: number;
  sso_default_role: string;
  updated_at: number;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  blocked_until: number;
  updated_at: number;
}

export interface OperatorTotpTable {
  operator_id: string;
  /** The base32 secret under the record cipher. */
  secret_sealed: Buffer;
  last_used_step: number | null;
  confirmed_at: number | null;
  created_at: number;
}

export interface OperatorWebauthnCredentialsTable {
  id: string;
  operator_id: string;
  public_key: Buffer;
  counter: number;
  /** JSON array of transports. */
  transports: string;
  created_at: number;
  last_used_at: number | null;
}

export interface OperatorRecoveryCodesTable {
  code_sha256: string;
  operator_id: string;
  created_at: number;
  used_at: number | null;
}

export interface KeyAgeNoticesTable {
  tenant_id: string;
  /** `YYYY-MM` (UTC). */
  month: string;
  sent_at: number;
}

/** A tenant's OIDC or SAML setting (src/identity/sso/sso-config.repository.ts), sealed whole. */
export interface SsoConfigsTable {
  tenant_id: string;
  settings_sealed: Buffer;
  created_at: number;
  updated_at: number;
}

export interface SsoDomainsTable {
  tenant_id: string;
  domain: string;
  verification_token: string;
  created_at: number;
  verified_at: number | null;
}

export interface SsoLoginStatesTable {
  /** SHA-256 hex of the OIDC `state`; the state itself travels only through the browser. */
  state_sha256: string;
  tenant_id: string;
  protocol: string;
  browser_sha256: string;
  secrets_sealed: Buffer;
  created_at: number;
  expires_at: number;
}

export interface SsoSamlAssertionsTable {
  tenant_id: string;
  assertion_id: string;
  expires_at: number;
}

/** A local keyring master key version in use (migration 0014). */
export interface KekVersionsTable {
  /** `local:v<version>`, as data keys name it. */
  kek_ref: string;
  version: number;
  /** HMAC-SHA256 of a fixed label under the key (src/crypto/local-keyring.ts): tells keys apart without revealing them. */
  check_value: string;
  created_at: number;
}

/** A named lease held by one process at a time (src/db/database-lock.ts). */
export interface DatabaseLocksTable {
  name: string;
  holder: string;
  expires_at: number;
}

/** A delivery worker's last sign of life (src/delivery/worker-heartbeat.repository.ts). */
export interface WorkerHeartbeatsTable {
  worker_id: string;
  started_at: number;
  heartbeat_at: number;
}

export interface BackupSnapshotsTable {
  id: string;
  created_at: number;
  environment: string;
  dialect: string;
  /** JSON object: table name to row count at snapshot time. */
  row_counts: string;
  database_bytes: number;
  blob_count: number;
  blob_bytes: number;
  /** Blobs new since the previous snapshot, copied by this one. */
  blobs_copied: number;
  manifest_sha256: string;
  database_sha256: string;
  blobs_sha256: string;
  target: string;
  replica: string;
  duration_ms: number;
  /** Set when retention removed it from both targets. */
  pruned_at: number | null;
}

export interface BackupDrillsTable {
  id: string;
  started_at: number;
  snapshot_id: string;
  /** The target restored from (the replica). */
  source: string;
  rto_ms: number;
  passed: number;
  /** Canonical JSON of the drill report; its SHA-256 is in the `backup.drilled` audit event. */
  report: string;
  report_sha256: string;
}

export interface Database {
  security_contacts: SecurityContactsTable;
  breaches: BreachesTable;
  breach_notices: BreachNoticesTable;
  security_reports: SecurityReportsTable;
  data_keys: DataKeysTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  payloads: PayloadsTable;
  attachments: AttachmentsTable;
  idempotency_keys: IdempotencyKeysTable;
  destinations: DestinationsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  audit_events: AuditEventsTable;
  audit_log_head: AuditLogHeadTable;
  audit_log_keys: AuditLogKeysTable;
  audit_checkpoints: AuditCheckpointsTable;
  inboxes: InboxesTable;
  signing_keys: SigningKeysTable;
  receipts: ReceiptsTable;
  rate_limit_windows: RateLimitWindowsTable;
  operators: OperatorsTable;
  tenant_members: TenantMembersTable;
  operator_sessions: OperatorSessionsTable;
  operator_tokens: OperatorTokensTable;
  tenant_policies: TenantPoliciesTable;
  login_throttle: LoginThrottleTable;
  operator_totp: OperatorTotpTable;
  operator_webauthn_credentials: OperatorWebauthnCredentialsTable;
  operator_recovery_codes: OperatorRecoveryCodesTable;
  key_age_notices: KeyAgeNoticesTable;
  sso_oidc_configs: SsoConfigsTable;
  sso_saml_configs: SsoConfigsTable;
  sso_domains: SsoDomainsTable;
  sso_login_states: SsoLoginStatesTable;
  sso_saml_assertions: SsoSamlAssertionsTable;
  kek_versions: KekVersionsTable;
  database_locks: DatabaseLocksTable;
  worker_heartbeats: WorkerHeartbeatsTable;
  staff_members: StaffMembersTable;
  staff_credentials: StaffCredentialsTable;
  staff_sessions: StaffSessionsTable;
  staff_login_states: StaffLoginStatesTable;
  staff_grants: StaffGrantsTable;
  backup_snapshots: BackupSnapshotsTable;
  backup_drills: BackupDrillsTable;
  security_keys: SecurityKeysTable;
  status_component_states: StatusComponentStatesTable;
  status_uptime_days: StatusUptimeDaysTable;
  status_maintenance: StatusMaintenanceTable;
  status_incidents: StatusIncidentsTable;
  status_updates: StatusUpdatesTable;
  status_postmortems: StatusPostmortemsTable;
  status_subscribers: StatusSubscribersTable;
  status_notices: StatusNoticesTable;
  status_webhook_subscribers: StatusWebhookSubscribersTable;
  status_webhook_notices: StatusWebhookNoticesTable;
}

/** Staff of the deployment (0017): the allow-list, enrolled by `sealpost staff add`. */
export interface StaffMembersTable {
  id: string;
  email: string;
  /** The IdP `sub`, bound at first sign-in: a later login must come from the same subject. */
  idp_subject: string | null;
  /** SHA-256 hex of the one-time WebAuthn enrolment code `staff add` prints. */
  enrolment_code_sha256: string | null;
  enrolment_expires_at: number | null;
  created_at: number;
  disabled_at: number | null;
}

export interface StaffCredentialsTable {
  id: string;
  staff_id: string;
  public_key: Buffer;
  counter: number;
  /** JSON array of transports. */
  transports: string;
  created_at: number;
  last_used_at: number | null;
}

export interface StaffSessionsTable {
  id: string;
  token_sha256: string;
  staff_id: string;
  webauthn_satisfied: number;
  webauthn_challenge: string | null;
  created_at: number;
  last_seen_at: number;
  revoked_at: number | null;
}

export interface StaffLoginStatesTable {
  state_sha256: string;
  browser_sha256: string;
  secrets_sealed: Buffer;
  expires_at: number;
}

export interface StaffGrantsTable {
  id: string;
  tenant_id: string;
  requester_id: string;
  approver_id: string | null;
  scope: string;
  reason: string;
  duration_ms: number;
  state: string;
  break_glass: number;
  requested_at: number;
  decided_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
  expiry_recorded_at: number | null;
}

/** A tenant's security contacts, where breach notices go (0021). */
export interface SecurityContactsTable {
  tenant_id: string;
  /** JSON array of e-mail addresses, sealed under the tenant's keys. */
  contacts_sealed: Buffer;
  updated_at: number;
  updated_by: string;
}

/** A confirmed breach declared by staff (0021). */
export interface BreachesTable {
  id: string;
  incident_id: string | null;
  title: string;
  summary_sealed: Buffer;
  declared_by: string;
  declared_at: number;
}

/** One affected tenant of a breach: its 72-hour clock, notice and acknowledgement (0021). */
export interface BreachNoticesTable {
  breach_id: string;
  tenant_id: string;
  clock_started_at: number;
  deadline_at: number;
  notified_at: number | null;
  notified_by: string | null;
  notified_via: string | null;
  recipients: number | null;
  ack_token_sha256: string | null;
  acknowledged_at: number | null;
  alerted_48h_at: number | null;
  alerted_66h_at: number | null;
}

/** A bug-bounty report received at security@<inbound domain> (0021). */
export interface SecurityReportsTable {
  id: string;
  tenant_id: string;
  payload_id: string;
  encrypted: number;
  sender_authenticated: number;
  received_at: number;
  acknowledged_at: number | null;
  ack_skipped: string | null;
}

/** The deployment's OpenPGP security key (0019): signs security.txt; see src/trust/security-key.service.ts. */
export interface SecurityKeysTable {
  id: string;
  /** Upper-case hex fingerprint of the primary key. */
  fingerprint: string;
  user_id: string;
  algorithm: string;
  source: 'created' | 'imported';
  public_key_armored: string;
  /** The armored, unencrypted private key, sealed by RecordCipher (context: _system, security_keys, id, private_key). */
  private_key_sealed: Buffer;
  is_current: number | null;
  created_at: number;
  expires_at: number | null;
  replaced_at: number | null;
}

/** The status page (0020, src/status/): each component's current state. */
export interface StatusComponentStatesTable {
  component: string;
  state: string;
  since: number;
  checked_at: number;
  detail: string;
}

/** Probe samples per component and UTC day (the 90-day uptime bars). */
export interface StatusUptimeDaysTable {
  component: string;
  day: string;
  samples: number;
  operational: number;
  degraded: number;
  partial_outage: number;
  major_outage: number;
  maintenance: number;
}

export interface StatusMaintenanceTable {
  id: string;
  components: string;
  starts_at: number;
  ends_at: number;
  note: string;
  created_by: string;
  created_at: number;
  cancelled_at: number | null;
}

export interface StatusIncidentsTable {
  id: string;
  title: string;
  impact: string;
  components: string;
  customer_visible: number;
  state: string;
  opened_by: string;
  opened_at: number;
  updated_at: number;
  resolved_at: number | null;
  postmortem_waiver: string | null;
}

export interface StatusUpdatesTable {
  id: string;
  incident_id: string;
  state: string;
  posted_at: number;
  document: string;
}

export interface StatusPostmortemsTable {
  incident_id: string;
  published_at: number;
  document: string;
}

/** E-mail subscribers of the status page (double opt-in); contact sealed, tokens by SHA-256. */
export interface StatusSubscribersTable {
  id: string;
  contact_sealed: Buffer;
  email_sha256: string;
  confirm_token_sha256: string | null;
  confirm_expires_at: number | null;
  unsubscribe_token_sha256: string;
  created_at: number;
  confirmed_at: number | null;
}

/** The outbox of status notices: one per confirmed subscriber and update. */
export interface StatusNoticesTable {
  id: string;
  subscriber_id: string;
  update_id: string;
  created_at: number;
  attempts: number;
  sent_at: number | null;
}

/** A webhook subscriber of the status page (0022): sealed URL, hashed tokens, its destination once confirmed. */
export interface StatusWebhookSubscribersTable {
  id: string;
  url_sealed: Buffer;
  url_sha256: string;
  confirm_token_sha256: string | null;
  confirm_expires_at: number | null;
  unsubscribe_token_sha256: string | null;
  destination_id: string | null;
  created_at: number;
  confirmed_at: number | null;
}

/** One update to ingest as a `status.notice` payload of the deployment tenant (0022). */
export interface StatusWebhookNoticesTable {
  update_id: string;
  created_at: number;
  attempts: number;
  payload_id: string | null;
}
