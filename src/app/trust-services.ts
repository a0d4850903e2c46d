import type { AuditRecorder } from '../audit/audit-recorder.js';
import { SecurityKeyRepository } from '../trust/security-key.repository.js';
import { SecurityKeyService } from '../trust/security-key.service.js';
import { SecurityTxtService } from '../trust/security-txt.js';
import type { AppContext } from './app-context.js';

/** The trust center (src/trust/): the deployment's security key, security.txt, the /security facts, the evidence bundle. */
export interface TrustServices {
  readonly securityKeys: SecurityKeyService;
  readonly securityTxt: SecurityTxtService;
}

export function createTrustServices(
  context: AppContext,
  options: { readonly publicUrl: string; readonly securityKeyAudit: AuditRecorder; readonly now?: () => number },
): TrustServices {
  const { db } = context.database;
  const { config } = context;
  const securityKeys = new SecurityKeyService(db, new SecurityKeyRepository(db), context.cipher, options.securityKeyAudit, options.now);
  const securityTxt = new SecurityTxtService(securityKeys, { trust: config.trust, publicUrl: options.publicUrl, inboundDomain: config.inboundDomain }, context.logger, options.now);
  return { securityKeys, securityTxt };
}
