import type { AuditRecorder } from '../audit/audit-recorder.js';
import { SecurityKeyRepository } from '../trust/security-key.repository.js';
import { SecurityKeyService } from '../trust/security-key.service.js';
import { SECURITY_TXT_PATH, SecurityTxtService } from '../trust/security-txt.js';
import { SECURITY_KEY_PATH } from '../trust/security-key.routes.js';
import { TrustFactsService } from '../trust/trust-facts.js';
import { EvidenceRepository } from '../trust/evidence.repository.js';
import { EvidenceService } from '../trust/evidence.service.js';
import { TrustFactsRepository } from '../trust/trust-facts.repository.js';
import { BackupRepository } from '../ops/backup/backup.repository.js';
import { CheckpointRepository } from '../audit/checkpoint.repository.js';
import type { AppContext } from './app-context.js';

/** The trust center (src/trust/): the deployment's security key, security.txt, the /security facts, the evidence bundle. */
export interface TrustServices {
  readonly securityKeys: SecurityKeyService;
  readonly securityTxt: SecurityTxtService;
  readonly facts: TrustFactsService;
  /** `sealpost compliance evidence`: the signed bundle for auditors. */
  readonly evidence: EvidenceService;
}

export function createTrustServices(
  context: AppContext,
  options: { readonly publicUrl: string; readonly securityKeyAudit: AuditRecorder; readonly evidenceAudit: AuditRecorder; readonly now?: () => number },
): TrustServices {
  const { db } = context.database;
  const { config } = context;
  const securityKeyRepository = new SecurityKeyRepository(db);
  const securityKeys = new SecurityKeyService(db, securityKeyRepository, context.cipher, options.securityKeyAudit, options.now);
  const securityTxt = new SecurityTxtService(securityKeys, { trust: config.trust, publicUrl: options.publicUrl, inboundDomain: config.inboundDomain }, context.logger, options.now);
  const facts = new TrustFactsService({
    config,
    repository: new TrustFactsRepository(db),
    backups: new BackupRepository(db),
    checkpoints: new CheckpointRepository(db),
    securityKeys,
    paths: { verifierKey: '/.well-known/sealpost-log-key', publicKey: SECURITY_KEY_PATH, securityTxt: SECURITY_TXT_PATH },
    ...(options.now ? { now: options.now } : {}),
  });
  const evidence = new EvidenceService({
    db,
    repository: new EvidenceRepository(db),
    securityKeys: securityKeyRepository,
    logKeys: context.audit.keys,
    config,
    audit: options.evidenceAudit,
    ...(options.now ? { now: options.now } : {}),
  });
  return { securityKeys, securityTxt, facts, evidence };
}
