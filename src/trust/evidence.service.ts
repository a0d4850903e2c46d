import { createHash, sign } from 'node:crypto';
import type { Kysely } from 'kysely';
import { canonicalize, noteKeyId, EVIDENCE_FORMAT, EVIDENCE_MANIFEST, EVIDENCE_SIGNATURE, evidenceSignedBytes, type EvidenceManifest } from '@sealpost/verify';
import type { AuditActor } from '../audit/audit-event.js';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { LogKeyService } from '../audit/log-key.service.js';
import { redactUrl } from '../config/config.load.js';
import { CONFIG_FIELDS, type FieldSpec, type SealpostConfig } from '../config/config.schema.js';
import { newId } from '../crypto/ids.js';
import type { Database } from '../db/schema.js';
import { SEALPOST_VERSION } from '../delivery/forwarded-request.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { tarBuffer, tarEnd } from '../ops/lifecycle/tar-stream.js';
import type { EvidenceRepository, TimeRange } from './evidence.repository.js';
import type { SecurityKeyRepository } from './security-key.repository.js';

/** Ten years: evidence for one audit period, not the whole history of the deployment at once. */
const MAX_RANGE_MS = 3_660 * 86_400_000;

export interface EvidenceBundle {
  readonly manifest: EvidenceManifest;
  /** The ustar archive: manifest.json, manifest.sig and the files the manifest lists. */
  readonly archive: Buffer;
}

export interface EvidenceDeps {
  readonly db: Kysely<Database>;
  readonly repository: EvidenceRepository;
  readonly securityKeys: SecurityKeyRepository;
  readonly logKeys: LogKeyService;
  readonly config: SealpostConfig;
  readonly audit: AuditRecorder;
  readonly now?: () => number;
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

/**
 * The configuration in force, as an auditor may see it: every setting, with secret ones shown
 * only as set or unset and passwords cut out of URLs; the database as its dialect alone.
 */
export function redactedConfiguration(config: SealpostConfig): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_FIELDS) as [keyof typeof CONFIG_FIELDS, FieldSpec][]) {
    const value = (config as Record<string, unknown>)[key];
    if (spec.secret) settings[spec.env] = value === undefined ? null : '[redacted]';
    else if (typeof value === 'string' && spec.type.kind === 'url') settings[spec.env] = redactUrl(value);
    else settings[spec.env] = value ?? null;
  }
  return { sealpost_version: SEALPOST_VERSION, settings, database: { dialect: config.database.dialect }, secret_sources: config.secretSources, trust: config.trust ?? null };
}

/**
 * `sealpost compliance evidence`: a signed archive for auditors of one period — key rotations,
 * backup and drill records, staff access grants, audit checkpoints and the configuration in
 * force (secrets redacted). The manifest lists each file's SHA-256 and is signed with the audit
 * log's Ed25519 key, so `verifyEvidenceBundle` of @sealpost/verify checks it offline against
 * the pinned log key.
 */
export class EvidenceService {
  private readonly now: () => number;

  constructor(private readonly deps: EvidenceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async build(range: TimeRange, actor: AuditActor): Promise<EvidenceBundle> {
    if (!Number.isFinite(range.from) || !Number.isFinite(range.to) || range.from >= range.to) {
      throw new SealpostError('SP_ERR_TRUST_EVIDENCE_INVALID', '--from must be before --to');
    }
    if (range.to - range.from > MAX_RANGE_MS) throw new SealpostError('SP_ERR_TRUST_EVIDENCE_INVALID', 'The period may cover at most ten years');
    const { repository } = this.deps;
    const [keyEvents, kekVersions, signingKeys, securityKeys, snapshots, drills, grants, checkpoints, logKey] = await Promise.all([
      repository.keyEvents(range),
      repository.kekVersions(),
      repository.signingKeys(range),
      this.deps.securityKeys.listAll(),
      repository.snapshots(range),
      repository.drills(range),
      repository.staffGrants(range),
      repository.checkpoints(range),
      this.deps.logKeys.currentKey(),
    ]);
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    const files: [string, Buffer][] = [
      [
        'key-rotations.json',
        json({
          audit_events: keyEvents,
          master_key_versions: kekVersions,
          signing_keys: signingKeys,
          security_keys: securityKeys.map((k) => ({ id: k.id, fingerprint: k.fingerprint, user_id: k.userId, algorithm: k.algorithm, source: k.source, created_at: iso(k.createdAt), replaced_at: iso(k.replacedAt) })),
        }),
      ],
      ['backups.json', json({ snapshots, drills })],
      ['staff-access.json', json({ grants })],
      ['audit-checkpoints.json', json({ verifier_key: logKey.verifierKey, checkpoints })],
      ['configuration.json', json(redactedConfiguration(this.deps.config))],
    ];
    const manifest: EvidenceManifest = {
      format: EVIDENCE_FORMAT,
      id: newId('evidence'),
      created_at: new Date(this.now()).toISOString(),
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
      key: { name: logKey.name, key_id: noteKeyId(logKey.name, logKey.publicKey).toString('hex') },
      files: files.map(([path, body]) => ({ path, size: body.length, sha256: createHash('sha256').update(body).digest('hex') })),
    };
    const manifestText = canonicalize(manifest);
    const signature = sign(null, evidenceSignedBytes(manifestText), logKey.privateKey).toString('base64');
    const manifestSha256 = createHash('sha256').update(manifestText).digest('hex');
    await this.deps.db.transaction().execute((tx) =>
      this.deps.audit(tx, {
        tenant: null,
        actor,
        action: 'compliance.evidence_exported',
        resource: manifest.id,
        details: { from: manifest.from, to: manifest.to, manifest_sha256: manifestSha256, files: files.length },
      }),
    );
    const mtime = this.now();
    const chunks: Buffer[] = [];
    for (const [path, body] of [[EVIDENCE_MANIFEST, Buffer.from(manifestText, 'utf8')], [EVIDENCE_SIGNATURE, Buffer.from(`${signature}\n`)], ...files] as [string, Buffer][]) {
      chunks.push(...tarBuffer(path, body, mtime));
    }
    chunks.push(tarEnd());
    return { manifest, archive: Buffer.concat(chunks) };
  }
}
