import type { SealpostConfig } from '../config/config.schema.js';
import { SIGNING_KEY_ACTIVE_MS, SIGNING_KEY_OVERLAP_MS } from '../crypto/signing-key.js';
import { TLS_CIPHERS } from '../crypto/tls-options.js';
import { SEALPOST_VERSION } from '../delivery/forwarded-request.js';
import type { CheckpointRepository } from '../audit/checkpoint.repository.js';
import type { BackupRepository } from '../ops/backup/backup.repository.js';
import type { SecurityKeyService } from './security-key.service.js';
import type { TrustConfig } from './trust-config.js';
import type { TrustFactsRepository } from './trust-facts.repository.js';
import type { TrustFactsJson } from './trust-facts.schema.js';

const DAY_MS = 86_400_000;
/** Facts are measured at most this often, however many visitors arrive: the page costs no query per hit. */
export const TRUST_FACTS_TTL_MS = 5_000;

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Everything /security shows and /security.json serves: measured facts and the trust config's (schema: trust-facts.schema.ts). */
export type TrustFacts = TrustFactsJson;

export interface TrustFactsSources {
  readonly config: Pick<SealpostConfig, 'keyProvider' | 'kekRotationDays' | 'tlsMinVersion' | 'backupTarget'> & { readonly trust?: TrustConfig };
  readonly repository: TrustFactsRepository;
  readonly backups: BackupRepository;
  readonly checkpoints: CheckpointRepository;
  readonly securityKeys: SecurityKeyService;
  readonly paths: { readonly verifierKey: string; readonly publicKey: string; readonly securityTxt: string };
  readonly now?: () => number;
}

/** One year, as the HSTS header says (src/http/security-headers.ts). */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

const normaliseFingerprint = (fp: string): string => fp.replace(/\s+/g, '').toUpperCase();

/**
 * The live facts behind the trust page, measured through the repositories of their domains and
 * cached for a few seconds, so a busy /security costs a handful of queries every few seconds.
 */
export class TrustFactsService {
  private cached: { facts: TrustFacts; at: number } | undefined;
  private pending: Promise<TrustFacts> | undefined;
  private readonly now: () => number;

  constructor(private readonly sources: TrustFactsSources) {
    this.now = sources.now ?? Date.now;
  }

  async facts(): Promise<TrustFacts> {
    const now = this.now();
    if (this.cached && now - this.cached.at < TRUST_FACTS_TTL_MS) return this.cached.facts;
    this.pending ??= this.measure(now)
      .then((facts) => {
        this.cached = { facts, at: now };
        return facts;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async measure(now: number): Promise<TrustFacts> {
    const { config, repository, backups, checkpoints, securityKeys, paths } = this.sources;
    const trust = config.trust;
    const [signing, kek, size, checkpoint, lastBackupAt, drills, key] = await Promise.all([
      repository.signingKeys(),
      repository.latestKekVersion(),
      repository.auditLogSize(),
      checkpoints.latest(),
      backups.latestSnapshotAt(),
      backups.drills(1),
      securityKeys.current(),
    ]);
    const nextSigning = signing.oldestActivatedAt === null ? null : signing.oldestActivatedAt + SIGNING_KEY_ACTIVE_MS;
    const local = config.keyProvider === 'local';
    const nextKek = local && kek ? kek.createdAt + config.kekRotationDays * DAY_MS : null;
    const drill = drills[0];
    const expected = trust?.pgpFingerprint === undefined ? null : normaliseFingerprint(trust.pgpFingerprint);
    const reviewBy = trust?.reviewBy ?? null;
    return {
      generated_at: new Date(now).toISOString(),
      sealpost_version: SEALPOST_VERSION,
      organization: trust?.organization ?? null,
      trust_config: { loaded: trust !== undefined, review_by: reviewBy, review_overdue: reviewBy !== null && Date.parse(`${reviewBy}T23:59:59Z`) < now },
      signing_keys: {
        algorithm: 'Ed25519',
        scope: 'per-tenant',
        active_keys: signing.active,
        rotation_period_days: SIGNING_KEY_ACTIVE_MS / DAY_MS,
        overlap_days: SIGNING_KEY_OVERLAP_MS / DAY_MS,
        last_rotation_at: iso(signing.newestActivatedAt),
        next_rotation_at: iso(nextSigning),
        rotation_overdue: nextSigning !== null && nextSigning < now,
      },
      encryption_at_rest: {
        algorithm: 'AES-256-GCM',
        key_provider: config.keyProvider as 'local' | 'aws-kms',
        master_key_version: local ? (kek?.version ?? null) : null,
        master_key_rotated_at: local ? iso(kek?.createdAt) : null,
        master_key_next_rotation_at: iso(nextKek),
        rotation_period_days: local ? config.kekRotationDays : 365,
        rotation_status: !local ? 'managed-by-kms' : nextKek !== null && nextKek < now ? 'overdue' : 'ok',
      },
      tls: { min_version: config.tlsMinVersion, ciphers: TLS_CIPHERS.split(':'), hsts_max_age_seconds: HSTS_MAX_AGE_SECONDS },
      backups: {
        configured: config.backupTarget !== undefined,
        last_backup_at: iso(lastBackupAt),
        last_drill: drill ? { at: new Date(Number(drill.started_at)).toISOString(), passed: Number(drill.passed) === 1, rto_seconds: Math.round(Number(drill.rto_ms) / 100) / 10 } : null,
      },
      audit_log: {
        size,
        latest_checkpoint: checkpoint ? { tree_size: checkpoint.treeSize, created_at: new Date(checkpoint.createdAt).toISOString(), seq: checkpoint.seq } : null,
        verifier_key_url: paths.verifierKey,
      },
      security_key: {
        fingerprint: key?.fingerprint ?? null,
        expected_fingerprint: expected,
        matches_expected: expected === null ? null : key?.fingerprint === expected,
        public_key_url: key ? paths.publicKey : null,
        security_txt_url: paths.securityTxt,
      },
      compliance: trust?.compliance ?? [],
      bounty: trust?.bounty ?? null,
      contacts: trust?.contacts ?? [],
      customer_responsibilities: trust?.customerResponsibilities ?? [],
    };
  }
}
