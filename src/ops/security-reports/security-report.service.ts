import { newId } from '../../crypto/ids.js';
import type { AcceptedMessage } from '../../ingest/smtp/inbound-message.service.js';
import type { Logger } from '../../logging/logger.js';
import type { OutboundMailer } from '../../mail/outbound-mailer.js';
import type { WindowRateLimiter } from '../../util/rate-limiter.js';
import type { AckSkipped, SecurityReport, SecurityReportRepository } from './security-report.repository.js';

/** An OpenPGP message in ASCII armour (RFC 9580 §6.2), as inline-PGP mail carries it. */
const PGP_ARMOUR = '-----BEGIN PGP MESSAGE-----';

export interface SecurityReportDeps {
  readonly repository: SecurityReportRepository;
  readonly deploymentTenant: string;
  readonly mailer: OutboundMailer;
  /** Acknowledgements per sender address, and per sender domain (a minute's window each). */
  readonly perAddress: WindowRateLimiter;
  readonly perDomain: WindowRateLimiter;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Whether a report came encrypted to the published key: PGP/MIME (RFC 3156 multipart/encrypted) or inline armour. */
export function isPgpEncrypted(message: Pick<AcceptedMessage, 'email' | 'attachmentTypes'>): boolean {
  const contentType = message.email.headers.find((h) => h.name.toLowerCase() === 'content-type')?.value.toLowerCase() ?? '';
  if (contentType.startsWith('multipart/encrypted') && contentType.includes('application/pgp-encrypted')) return true;
  if (message.attachmentTypes.some((t) => t.toLowerCase() === 'application/pgp-encrypted')) return true;
  return (message.email.text ?? '').includes(PGP_ARMOUR);
}

/**
 * Bug-bounty intake (docs/security-operations.md): mail to security@<inbound domain> is stored and
 * forwarded like any mail of the deployment tenant (its destinations); this records each report
 * and acknowledges it with its report id, but only to a sender whose domain passed DMARC (so a
 * forged sender never gets mail from us: no backscatter), within a rate limit per address and per
 * domain, and without echoing anything of the report.
 */
export class SecurityReportService {
  constructor(private readonly deps: SecurityReportDeps) {}

  /** The SMTP ingress's hook: called for every new message; acts only on the deployment tenant's. Never throws. */
  accepted(message: AcceptedMessage): void {
    if (message.tenantId !== this.deps.deploymentTenant) return;
    this.receive(message).catch((err: unknown) => this.deps.logger.error({ err, payload: message.payloadId }, 'security report could not be recorded'));
  }

  async receive(message: AcceptedMessage): Promise<SecurityReport> {
    const authenticated = message.auth.dmarc === 'pass';
    const report: SecurityReport = {
      id: newId('securityReport'),
      tenantId: this.deps.deploymentTenant,
      payloadId: message.payloadId,
      encrypted: isPgpEncrypted(message),
      senderAuthenticated: authenticated,
      receivedAt: this.deps.now(),
      acknowledgedAt: null,
      ackSkipped: null,
    };
    await this.deps.repository.insert(report);
    const outcome = await this.acknowledge(report, message);
    await this.deps.repository.settleAck(report.tenantId, report.id, outcome);
    this.deps.logger.info({ report: report.id, payload: report.payloadId, encrypted: report.encrypted, ...('skipped' in outcome ? { ack_skipped: outcome.skipped } : { acknowledged: true }) }, 'security report received');
    return { ...report, ...('skipped' in outcome ? { ackSkipped: outcome.skipped } : { acknowledgedAt: outcome.acknowledgedAt }) };
  }

  list(limit = 100): Promise<SecurityReport[]> {
    return this.deps.repository.list(this.deps.deploymentTenant, limit);
  }

  private async acknowledge(report: SecurityReport, message: AcceptedMessage): Promise<{ acknowledgedAt: number } | { skipped: AckSkipped }> {
    // DMARC authenticates the From header's domain: the only address we may answer without risk of answering a forgery.
    const to = message.email.from?.address ?? '';
    const at = to.lastIndexOf('@');
    if (at <= 0 || /[\s,<>"]/.test(to)) return { skipped: 'no_sender' };
    if (!report.senderAuthenticated) return { skipped: 'unauthenticated' };
    const domain = to.slice(at + 1).toLowerCase();
    if ((await this.deps.perAddress.hit(`security-ack:${to.toLowerCase()}`)) > 0 || (await this.deps.perDomain.hit(`security-ack-domain:${domain}`)) > 0) {
      return { skipped: 'rate_limited' };
    }
    try {
      await this.deps.mailer.send({
        to,
        subject: `Security report received: ${report.id}`,
        text: [
          'Thank you: your security report reached the security team of this Sealpost deployment.',
          '',
          `Report id: ${report.id}`,
          `Received: ${new Date(report.receivedAt).toISOString()}`,
          report.encrypted ? 'It arrived encrypted, and is kept as it arrived.' : 'Next time, you may encrypt it to the key published in /.well-known/security.txt.',
          '',
          'Please quote the report id in any follow-up. This is an automatic message.',
        ].join('\n'),
      });
      return { acknowledgedAt: this.deps.now() };
    } catch (err) {
      this.deps.logger.error({ err, report: report.id }, 'security report acknowledgement could not be sent');
      return { skipped: 'mail_failed' };
    }
  }
}
