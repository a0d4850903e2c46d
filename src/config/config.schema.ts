import type { TrustConfig } from '../trust/trust-config.js';

/**
 * Every setting Sealpost reads, in one table. The loader, the validation messages and the
 * README's configuration table all come from here, so they cannot drift apart.
 *
 * Precedence: defaults, then the optional JSON config file (`SEALPOST_CONFIG`), then
 * `SEALPOST_*` environment variables.
 */

export type FieldType =
  | { kind: 'string' }
  | { kind: 'path' }
  | { kind: 'port' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'url'; protocols: readonly string[] }
  /** Comma-separated durations: `0`, `5s`, `5m`, `2h`, `1d`; parsed to milliseconds. */
  | { kind: 'durations' }
  /** `true`, `false`, or a comma-separated list of CIDRs that are allowed. */
  | { kind: 'cidr-allow' };

export interface FieldSpec {
  /** Environment variable; the config file uses the same name without `SEALPOST_`, lower-cased. */
  readonly env: string;
  readonly type: FieldType;
  /** Default as the user would write it; `undefined` means unset. */
  readonly default: string | undefined;
  readonly description: string;
  /**
   * A credential: also read from `<env>_FILE` (a Docker or Kubernetes secret file) or an
   * `aws-sm://<secret-id>[#json-field]` reference, never echoed in errors, and shown by
   * `sealpost config check` only as where it came from. Mark every new credential setting so.
   */
  readonly secret?: true;
}

const port = { kind: 'port' } as const;

export const CONFIG_FIELDS = {
  dataDir: {
    env: 'SEALPOST_DATA_DIR',
    type: { kind: 'path' },
    default: './data',
    description: 'Directory for the embedded database, blobs, keyring and generated TLS certificate.',
  },
  databaseUrl: {
    env: 'SEALPOST_DATABASE_URL',
    type: { kind: 'url', protocols: ['sqlite:', 'postgres:', 'postgresql:'] },
    default: undefined,
    description: '`postgres://user:pass@host/db` for PostgreSQL; unset uses SQLite at `<data dir>/sealpost.db`.',
    secret: true,
  },
  httpHost: {
    env: 'SEALPOST_HTTP_HOST',
    type: { kind: 'string' },
    default: '0.0.0.0',
    description: 'Address the HTTPS API listens on.',
  },
  httpPort: { env: 'SEALPOST_HTTP_PORT', type: port, default: '8443', description: 'HTTPS API port (0 picks a free one).' },
  smtpPort: { env: 'SEALPOST_SMTP_PORT', type: port, default: '2525', description: 'SMTP ingress port (25 in production).' },
  smtpHost: {
    env: 'SEALPOST_SMTP_HOST',
    type: { kind: 'string' },
    default: '0.0.0.0',
    description: 'Address the SMTP ingress listens on.',
  },
  inboundDomain: {
    env: 'SEALPOST_INBOUND_DOMAIN',
    type: { kind: 'string' },
    default: 'localhost',
    description: 'Domain of inbox addresses (`<token>@<domain>`); point its MX record at the SMTP ingress.',
  },
  smtpMaxMessageBytes: {
    env: 'SEALPOST_SMTP_MAX_MESSAGE_BYTES',
    type: { kind: 'int', min: 1024, max: 1024 * 1024 * 1024 },
    default: String(35 * 1024 * 1024),
    description: 'Largest e-mail the SMTP ingress accepts, advertised with `SIZE`; larger ones get `552 5.3.4`.',
  },
  smtpMaxConnectionsPerIp: {
    env: 'SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP',
    type: { kind: 'int', min: 1, max: 100_000 },
    default: '20',
    description: 'Concurrent SMTP connections from one client IP (per process); more get `421 4.7.0`.',
  },
  smtpRateLimitPerIp: {
    env: 'SEALPOST_SMTP_RATE_LIMIT_PER_IP',
    type: { kind: 'int', min: 1, max: 10_000_000 },
    default: '300',
    description: 'Messages per minute one client IP may send (per process); more get `421 4.7.0`.',
  },
  publicUrl: {
    env: 'SEALPOST_PUBLIC_URL',
    type: { kind: 'url', protocols: ['https:', 'http:'] },
    default: undefined,
    description: 'Base URL customers reach Sealpost at; defaults to `https://localhost:<port>`.',
  },
  auditOrigin: {
    env: 'SEALPOST_AUDIT_ORIGIN',
    type: { kind: 'string' },
    default: undefined,
    description:
      'First line of every audit checkpoint (C2SP origin), and the name of a new log key. Unset: `<host of SEALPOST_PUBLIC_URL>/audit`, or `sealpost.local/audit` without one. Changing it later is safe: older checkpoints keep the origin they were signed with.',
  },
  tlsCert: {
    env: 'SEALPOST_TLS_CERT',
    type: { kind: 'path' },
    default: undefined,
    description: 'PEM certificate chain. Unset: a self-signed certificate for localhost is generated in the data dir.',
  },
  tlsKey: {
    env: 'SEALPOST_TLS_KEY',
    type: { kind: 'path' },
    default: undefined,
    description: 'PEM private key for `SEALPOST_TLS_CERT`. Both files are re-read on SIGHUP.',
  },
  tlsMinVersion: {
    env: 'SEALPOST_TLS_MIN_VERSION',
    type: { kind: 'enum', values: ['TLSv1.2', 'TLSv1.3'] },
    default: 'TLSv1.2',
    description: 'Lowest TLS version accepted; TLS 1.3 is always preferred.',
  },
  keyProvider: {
    env: 'SEALPOST_KEY_PROVIDER',
    type: { kind: 'enum', values: ['local', 'aws-kms'] },
    default: 'local',
    description: 'Who wraps data keys: the local keyring in the data dir, or AWS KMS.',
  },
  kmsKeyId: {
    env: 'SEALPOST_KMS_KEY_ID',
    type: { kind: 'string' },
    default: undefined,
    description: 'AWS KMS key id or ARN (required with `aws-kms`). Enable automatic yearly rotation on it.',
  },
  awsRegion: {
    env: 'SEALPOST_AWS_REGION',
    type: { kind: 'string' },
    default: undefined,
    description: 'AWS region for KMS and S3; unset uses the AWS SDK default chain.',
  },
  kekRotationDays: {
    env: 'SEALPOST_KEK_ROTATION_DAYS',
    type: { kind: 'int', min: 1, max: 365 },
    default: '365',
    description: 'Age after which the local keyring gains a new master key version.',
  },
  blobStore: {
    env: 'SEALPOST_BLOB_STORE',
    type: { kind: 'enum', values: ['local', 's3'] },
    default: 'local',
    description: 'Where attachments and raw messages go: `<data dir>/blobs` or an S3 bucket.',
  },
  s3Bucket: { env: 'SEALPOST_S3_BUCKET', type: { kind: 'string' }, default: undefined, description: 'S3 bucket (required with `s3`).' },
  s3Endpoint: {
    env: 'SEALPOST_S3_ENDPOINT',
    type: { kind: 'url', protocols: ['https:', 'http:'] },
    default: undefined,
    description: 'Endpoint of an S3-compatible store (MinIO, Ceph…); unset uses AWS S3.',
  },
  s3ForcePathStyle: {
    env: 'SEALPOST_S3_FORCE_PATH_STYLE',
    type: { kind: 'bool' },
    default: 'false',
    description: 'Use path-style bucket addressing (most S3-compatible stores need it).',
  },
  maxBodyBytes: {
    env: 'SEALPOST_MAX_BODY_BYTES',
    type: { kind: 'int', min: 1024, max: 64 * 1024 * 1024 },
    default: String(1024 * 1024),
    description: 'Largest JSON body `POST /v1/payloads` accepts (and the JSON part of a multipart upload).',
  },
  maxAttachmentBytes: {
    env: 'SEALPOST_MAX_ATTACHMENT_BYTES',
    type: { kind: 'int', min: 1024, max: 1024 * 1024 * 1024 },
    default: String(25 * 1024 * 1024),
    description: 'Largest single attachment; attachments are streamed, never held whole in memory.',
  },
  rateLimitPerKey: {
    env: 'SEALPOST_RATE_LIMIT_PER_KEY',
    type: { kind: 'int', min: 1, max: 10_000_000 },
    default: '6000',
    description: 'Requests per minute one API key may make. Shared by all API processes on PostgreSQL (counted in the database), per process on SQLite.',
  },
  rateLimitPerIp: {
    env: 'SEALPOST_RATE_LIMIT_PER_IP',
    type: { kind: 'int', min: 1, max: 10_000_000 },
    default: '12000',
    description: 'Requests per minute from one client IP, checked before authentication; `/healthz`, `/readyz` and `/.well-known/*` count in a bucket of their own with the same limit. Shared like the per-key limit. Past 5 refusals (401/429) per IP and minute, refused requests are counted into one `api.refused` audit event instead of one each.',
  },
  sessionIdleMinutes: {
    env: 'SEALPOST_SESSION_IDLE_MINUTES',
    type: { kind: 'int', min: 1, max: 24 * 60 },
    default: '30',
    description: 'An operator session unused this many minutes ends (idle timeout).',
  },
  sessionAbsoluteHours: {
    env: 'SEALPOST_SESSION_ABSOLUTE_HOURS',
    type: { kind: 'int', min: 1, max: 7 * 24 },
    default: '12',
    description: 'Every operator session ends this many hours after sign-in, however active (absolute timeout).',
  },
  outboundSmtpUrl: {
    env: 'SEALPOST_OUTBOUND_SMTP_URL',
    type: { kind: 'url', protocols: ['smtp:', 'smtps:'] },
    default: undefined,
    description:
      'Relay for the mail Sealpost sends (invites, password resets, the monthly old-key notice), e.g. `smtps://user:pass@relay.example.com:465`; `smtp:` upgrades with STARTTLS, which is then required. Unset: no mail; `sealpost operators create` prints setup links and mail-sending routes answer `SP_ERR_MAIL_NOT_CONFIGURED`.',
    // It may carry the relay's password.
    secret: true,
  },
  outboundMailFrom: {
    env: 'SEALPOST_OUTBOUND_MAIL_FROM',
    type: { kind: 'string' },
    default: undefined,
    description: 'From address of the mail Sealpost sends; `sealpost@<SEALPOST_INBOUND_DOMAIN>` by default.',
  },
  allowPrivateDestinations: {
    env: 'SEALPOST_ALLOW_PRIVATE_DESTINATIONS',
    type: { kind: 'cidr-allow' },
    default: 'false',
    description: 'Allow destinations on loopback/private/link-local addresses: `true`, or a list of CIDRs (on-premise receivers).',
  },
  allowHttpDestinations: {
    env: 'SEALPOST_ALLOW_HTTP_DESTINATIONS',
    type: { kind: 'bool' },
    default: 'false',
    description: 'Allow plain `http://` destination URLs (otherwise HTTPS only).',
  },
  ssoAllowPrivateIdp: {
    env: 'SEALPOST_SSO_ALLOW_PRIVATE_IDP',
    type: { kind: 'cidr-allow' },
    default: 'false',
    description:
      "Allow tenants' OIDC issuers on loopback/private/link-local addresses (Sealpost fetches their discovery document, keys and tokens): `true`, or a list of CIDRs (an on-premise IdP). Otherwise the SSRF guard refuses them, at every connection.",
  },
  staffOidcIssuer: {
    env: 'SEALPOST_STAFF_OIDC_ISSUER',
    type: { kind: 'url', protocols: ['https:', 'http:'] },
    default: undefined,
    description:
      "Issuer of the deployment's own OpenID provider, through which staff (the people who run the deployment) sign in, followed by a WebAuthn key with user verification; `https://` (plain `http://` only on loopback, for development). Set it with `SEALPOST_STAFF_OIDC_CLIENT_ID` and `_CLIENT_SECRET`; unset: no staff sign-in. Only e-mails enrolled with `sealpost staff add` are accepted. Fetched through the SSRF guard: a private-address IdP needs `SEALPOST_SSO_ALLOW_PRIVATE_IDP`.",
  },
  staffOidcClientId: {
    env: 'SEALPOST_STAFF_OIDC_CLIENT_ID',
    type: { kind: 'string' },
    default: undefined,
    description: "Sealpost's client id at the staff OpenID provider; its redirect URI is `<SEALPOST_PUBLIC_URL>/staff/v1/auth/oidc/callback`.",
  },
  staffOidcClientSecret: {
    env: 'SEALPOST_STAFF_OIDC_CLIENT_SECRET',
    type: { kind: 'string' },
    default: undefined,
    description: 'Client secret at the staff OpenID provider (HTTP Basic at its token endpoint). Never printed by `sealpost config`.',
    secret: true,
  },
  maxDestinationsPerTenant: {
    env: 'SEALPOST_MAX_DESTINATIONS_PER_TENANT',
    type: { kind: 'int', min: 1, max: 10_000 },
    default: '50',
    description: 'Destinations one tenant may have; creating one more answers 409 `SP_ERR_DESTINATION_LIMIT_REACHED`.',
  },
  maxFanoutPerPayload: {
    env: 'SEALPOST_MAX_FANOUT_PER_PAYLOAD',
    type: { kind: 'int', min: 1, max: 10_000 },
    default: undefined,
    description: 'Deliveries one payload may create; unset means `SEALPOST_MAX_DESTINATIONS_PER_TENANT`. A payload matching more destinations is refused (409 `SP_ERR_INGEST_FANOUT_EXCEEDED`), never partly delivered.',
  },
  retrySchedule: {
    env: 'SEALPOST_RETRY_SCHEDULE',
    type: { kind: 'durations' },
    default: '0,5s,5m,30m,2h,5h,10h,10h',
    description: 'Delay before each delivery attempt (jittered); after the last one the delivery is dead-lettered.',
  },
  deliveryTimeoutSeconds: {
    env: 'SEALPOST_DELIVERY_TIMEOUT_SECONDS',
    type: { kind: 'int', min: 1, max: 300 },
    default: '15',
    description: 'Default per-request timeout for deliveries (a destination may set its own).',
  },
  workerConcurrency: {
    env: 'SEALPOST_WORKER_CONCURRENCY',
    type: { kind: 'int', min: 1, max: 1000 },
    default: '32',
    description: 'Deliveries one worker process sends at once.',
  },
  destinationDisableAfterDays: {
    env: 'SEALPOST_DESTINATION_DISABLE_AFTER_DAYS',
    type: { kind: 'int', min: 1, max: 90 },
    default: '5',
    description: 'A destination failing continuously this long is disabled (re-enabling resumes its queue).',
  },
  environment: {
    env: 'SEALPOST_ENVIRONMENT',
    type: { kind: 'enum', values: ['production', 'staging', 'development'] },
    default: 'development',
    description: 'What this deployment is. Snapshots record it; a `production` snapshot is restored into any other environment only with `--scrub`.',
  },
  backupTarget: {
    env: 'SEALPOST_BACKUP_TARGET',
    type: { kind: 'string' },
    default: undefined,
    description: 'Where `sealpost backup create` and the scheduler put encrypted snapshots: an absolute directory or `s3://bucket/prefix`. Unset: no backups.',
  },
  backupReplica: {
    env: 'SEALPOST_BACKUP_REPLICA',
    type: { kind: 'string' },
    default: undefined,
    description: 'The second copy of every snapshot (in production a bucket in another region): an absolute directory or `s3://bucket/prefix`. Required with `SEALPOST_BACKUP_TARGET`.',
  },
  backupTargetEndpoint: {
    env: 'SEALPOST_BACKUP_TARGET_ENDPOINT',
    type: { kind: 'url', protocols: ['https:', 'http:'] },
    default: undefined,
    description: 'S3-compatible endpoint of the backup target; unset uses AWS S3.',
  },
  backupReplicaEndpoint: {
    env: 'SEALPOST_BACKUP_REPLICA_ENDPOINT',
    type: { kind: 'url', protocols: ['https:', 'http:'] },
    default: undefined,
    description: 'S3-compatible endpoint of the backup replica; unset uses AWS S3.',
  },
  backupReplicaRegion: {
    env: 'SEALPOST_BACKUP_REPLICA_REGION',
    type: { kind: 'string' },
    default: undefined,
    description: 'AWS region of the replica bucket; unset uses `SEALPOST_AWS_REGION`.',
  },
  backupInterval: {
    env: 'SEALPOST_BACKUP_INTERVAL',
    type: { kind: 'durations' },
    default: '1h',
    description: 'Time between scheduled snapshots (one duration, at least `5m`; `0` disables them). This is the recovery point objective: at most this much is lost.',
  },
  backupDrillInterval: {
    env: 'SEALPOST_BACKUP_DRILL_INTERVAL',
    type: { kind: 'durations' },
    default: '90d',
    description: 'Time between scheduled restore drills (one duration, at least `1h`; `0` disables them).',
  },
  logLevel: {
    env: 'SEALPOST_LOG_LEVEL',
    type: { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    default: 'info',
    description: 'Log level of the JSON logs on standard output.',
  },
  metricsPort: {
    env: 'SEALPOST_METRICS_PORT',
    type: port,
    default: undefined,
    description: 'Port of the Prometheus listener (plain HTTP, `GET /metrics`), apart from the API; unset: no metrics listener. Every process serves its own.',
  },
  metricsHost: {
    env: 'SEALPOST_METRICS_HOST',
    type: { kind: 'string' },
    default: '127.0.0.1',
    description: 'Address of the metrics listener: loopback, so only this machine (a Prometheus agent or sidecar) can scrape it. Metrics hold no payload content, but name destination ids; widen it only onto a private network.',
  },
  otelExporterOtlpEndpoint: {
    env: 'SEALPOST_OTEL_EXPORTER_OTLP_ENDPOINT',
    type: { kind: 'url', protocols: ['https:', 'http:'] },
    default: undefined,
    description: 'OTLP/HTTP traces endpoint (e.g. `http://collector:4318/v1/traces`); unset: no tracing. Spans for API requests and delivery attempts; their trace ids appear in the logs (`trace_id`) and reach destinations as `traceparent`.',
  },
  healthHost: {
    env: 'SEALPOST_HEALTH_HOST',
    type: { kind: 'string' },
    default: '127.0.0.1',
    description: 'Address of the plain-HTTP health listener (`/healthz`, `/readyz`); keep it on loopback or a private network.',
  },
  healthPort: {
    env: 'SEALPOST_HEALTH_PORT',
    type: port,
    default: undefined,
    description: "Port of this process's health listener (`GET /healthz` alive, `GET /readyz` ready: database reachable, keyring in step, the role's periodic jobs on time). Unset: no listener; give each process on a host its own port.",
  },
  databaseTimeoutSeconds: {
    env: 'SEALPOST_DATABASE_TIMEOUT_SECONDS',
    type: { kind: 'int', min: 1, max: 300 },
    default: '5',
    description: 'PostgreSQL: longest wait for a connection and for one statement (client and server side); an idle open transaction is ended after 6 times this. A request that hits it answers 503 `SP_ERR_DB_UNAVAILABLE` (SMTP `451 4.3.0`). Migrations are exempt.',
  },
  checkpointIntervalSeconds: {
    env: 'SEALPOST_CHECKPOINT_INTERVAL_SECONDS',
    type: { kind: 'int', min: 1, max: 60 },
    default: '60',
    description: 'How often the scheduler signs an audit checkpoint while events arrive.',
  },
  statusProbeIntervalSeconds: {
    env: 'SEALPOST_STATUS_PROBE_INTERVAL_SECONDS',
    type: { kind: 'int', min: 1, max: 3600 },
    default: '60',
    description: "How often the scheduler probes the deployment's own listeners for the status page (`/status`): HTTPS (TLS and `/healthz`), SMTP (greeting, EHLO, STARTTLS), the console, and delivery lag and workers. Each run adds one sample per component to the 90-day uptime bars.",
  },
  statusProbeHost: {
    env: 'SEALPOST_STATUS_PROBE_HOST',
    type: { kind: 'string' },
    default: undefined,
    description: "Address the status probes connect to (the HTTPS and SMTP ports are `SEALPOST_HTTP_PORT` and `SEALPOST_SMTP_PORT`). Unset: each listener's own address, `127.0.0.1` for one bound to every address. Set it when the scheduler runs apart from the API and SMTP roles (their load balancer's address).",
  },
  keyRefreshSeconds: {
    env: 'SEALPOST_KEY_REFRESH_SECONDS',
    type: { kind: 'int', min: 1, max: 300 },
    default: '30',
    description: 'How often a running process re-reads the active signing keys and master key version, so a rotation made elsewhere is used within this time.',
  },
  workerHeartbeatSeconds: {
    env: 'SEALPOST_WORKER_HEARTBEAT_SECONDS',
    type: { kind: 'int', min: 1, max: 60 },
    default: '2',
    description: "How often a worker records that it is alive (one row upsert). A worker silent for 3 heartbeats is dead: the next heartbeat of any other worker ends its delivery leases, so its deliveries are retried within about 4 heartbeats instead of when their lease expires (the destination's timeout plus 30 s).",
  },
  trustConfig: {
    env: 'SEALPOST_TRUST_CONFIG',
    type: { kind: 'path' },
    default: undefined,
    description: 'YAML or JSON file of the trust center facts only people know (compliance table, bounty ranges, contacts, security.txt fields); see `deploy/trust.example.yaml`. Checked at start. Unset: `/security` and security.txt show defaults and say the file is missing.',
  },
  shutdownTimeoutSeconds: {
    env: 'SEALPOST_SHUTDOWN_TIMEOUT_SECONDS',
    type: { kind: 'int', min: 1, max: 600 },
    default: '30',
    description: 'How long SIGTERM waits for in-flight requests before closing them.',
  },
} as const satisfies Record<string, FieldSpec>;

export type ConfigKey = keyof typeof CONFIG_FIELDS;

type ValueOf<T extends FieldType> = T extends { kind: 'port' | 'int' }
  ? number
  : T extends { kind: 'durations' }
    ? readonly number[]
  : T extends { kind: 'cidr-allow' }
    ? boolean | readonly string[]
  : T extends { kind: 'bool' }
    ? boolean
    : T extends { kind: 'enum'; values: readonly (infer V)[] }
      ? V
      : string;

type Required<K extends ConfigKey> = (typeof CONFIG_FIELDS)[K]['default'] extends string ? true : false;

/** The validated configuration. Fields without a default may be undefined. */
export type SealpostConfig = {
  readonly [K in ConfigKey as Required<K> extends true ? K : never]: ValueOf<(typeof CONFIG_FIELDS)[K]['type']>;
} & {
  readonly [K in ConfigKey as Required<K> extends true ? never : K]?: ValueOf<(typeof CONFIG_FIELDS)[K]['type']>;
} & {
  /** Resolved from `databaseUrl`: which dialect, and for SQLite the file. */
  readonly database: { readonly dialect: 'sqlite'; readonly file: string } | { readonly dialect: 'postgres'; readonly url: string };
  /** Where each secret setting came from (`SEALPOST_X`, a `_FILE`, an `aws-sm://` secret, or `unset`); never the value. */
  readonly secretSources: readonly { readonly setting: string; readonly source: string }[];
  /** The file of `trustConfig`, read and checked at load. */
  readonly trust?: TrustConfig;
};
