import { cachedResolver, lookupOf, systemLookup, type DnsResolver } from '../ingest/smtp/dns-resolver.js';
import { startSmtpServer, type SmtpLimits, type SmtpServerHandle } from '../ingest/smtp/smtp.server.js';
import type { EncryptedBlobStore } from '../storage/encrypted-blob-store.js';
import type { Sealpost } from './sealpost.js';

export interface SmtpRoleOptions {
  /** Defaults: SEALPOST_SMTP_PORT and SEALPOST_SMTP_HOST. */
  readonly port?: number;
  readonly host?: string;
  /** DNS for SPF/DKIM/DMARC/ARC; the system resolver by default. Either way behind the bounded cache. */
  readonly resolver?: DnsResolver;
  /** Host name in the greeting and in Authentication-Results. */
  readonly name?: string;
  readonly limits?: Partial<SmtpLimits>;
  /** Clock of the per-IP message rate limit (tests pin it). */
  readonly now?: () => number;
  /** Replaces the blob store the SMTP ingress writes to (failure injection in tests). */
  readonly blobs?: (real: EncryptedBlobStore) => EncryptedBlobStore;
}

/**
 * The `smtp` role: the SMTP listener over the shared ingest service and inboxes. Resolves once it
 * is listening; `close()` on shutdown, `reloadTls()` on SIGHUP.
 */
export function startSmtp(sealpost: Sealpost, options: SmtpRoleOptions = {}): Promise<SmtpServerHandle> {
  const { config, logger } = sealpost;
  // One cache per process, for every connection: a sender domain is looked up once per TTL, not once per message.
  const resolver = cachedResolver(options.resolver ? lookupOf(options.resolver) : systemLookup());
  return startSmtpServer({
    context: { config, logger, blobs: options.blobs ? options.blobs(sealpost.blobs) : sealpost.blobs },
    payloads: sealpost.payloads,
    inboxes: sealpost.inboxes,
    port: options.port ?? config.smtpPort,
    host: options.host ?? config.smtpHost,
    resolver,
    ...(options.name ? { name: options.name } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.now ? { now: options.now } : {}),
    onAccepted: (message) => sealpost.securityReports.accepted(message),
  });
}
