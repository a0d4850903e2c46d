import { Type, type Static } from '@sinclair/typebox';
import { TrustConfigSchema } from './trust-config.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const DateTime = Type.String({ description: 'RFC 3339 date-time, UTC' });
const config = TrustConfigSchema.properties;

/** `GET /security.json`: the facts of the trust page (src/trust/trust-facts.ts), measured live or from the trust config. */
export const TrustFactsSchema = Type.Object(
  {
    generated_at: DateTime,
    sealpost_version: Type.String(),
    organization: Nullable(Type.String()),
    trust_config: Type.Object({ loaded: Type.Boolean(), review_by: Nullable(Type.String()), review_overdue: Type.Boolean() }),
    signing_keys: Type.Object({
      algorithm: Type.Literal('Ed25519'),
      scope: Type.Literal('per-tenant'),
      active_keys: Type.Integer(),
      rotation_period_days: Type.Integer(),
      overlap_days: Type.Integer(),
      last_rotation_at: Nullable(DateTime),
      next_rotation_at: Nullable(DateTime),
      rotation_overdue: Type.Boolean(),
    }),
    encryption_at_rest: Type.Object({
      algorithm: Type.Literal('AES-256-GCM'),
      key_provider: Type.Union([Type.Literal('local'), Type.Literal('aws-kms')]),
      master_key_version: Type.Union([Type.Integer(), Type.Null()]),
      master_key_rotated_at: Nullable(DateTime),
      master_key_next_rotation_at: Nullable(DateTime),
      rotation_period_days: Type.Integer(),
      rotation_status: Type.Union([Type.Literal('ok'), Type.Literal('overdue'), Type.Literal('managed-by-kms')]),
    }),
    tls: Type.Object({ min_version: Type.String(), ciphers: Type.Array(Type.String()), hsts_max_age_seconds: Type.Integer() }),
    backups: Type.Object({
      configured: Type.Boolean(),
      last_backup_at: Nullable(DateTime),
      last_drill: Type.Union([Type.Object({ at: DateTime, passed: Type.Boolean(), rto_seconds: Type.Number() }), Type.Null()]),
    }),
    audit_log: Type.Object({
      size: Type.Integer(),
      latest_checkpoint: Type.Union([Type.Object({ tree_size: Type.Integer(), created_at: DateTime, seq: Type.Union([Type.Integer(), Type.Null()]) }), Type.Null()]),
      verifier_key_url: Type.String(),
    }),
    security_key: Type.Object({
      fingerprint: Nullable(Type.String()),
      expected_fingerprint: Nullable(Type.String()),
      matches_expected: Type.Union([Type.Boolean(), Type.Null()]),
      public_key_url: Nullable(Type.String()),
      security_txt_url: Type.String(),
    }),
    compliance: config.compliance,
    bounty: Type.Union([config.bounty, Type.Null()]),
    contacts: config.contacts,
    customer_responsibilities: Type.Array(Type.String()),
  },
  { description: "The deployment's security facts: measured live (keys, TLS, backups, audit log) or from its trust config (compliance, bounty, contacts)" },
);

export type TrustFactsJson = Static<typeof TrustFactsSchema>;
