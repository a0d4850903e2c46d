import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../app/app-context.js';
import { PayloadRepository } from '../payload.repository.js';
import type { PayloadService } from '../payload.service.js';
import { InboxRepository } from './inbox.repository.js';
import { inboxRoutes } from './inbox.routes.js';
import { InboxService } from './inbox.service.js';
import { rawMessageRoutes } from './raw-message.routes.js';
import type { DnsResolver } from './sender-auth.js';
import { startSmtpServer, type SmtpLimits, type SmtpServerHandle } from './smtp.server.js';

export interface SmtpIngressOptions {
  /** Defaults: SEALPOST_SMTP_PORT and SEALPOST_SMTP_HOST. */
  readonly port?: number;
  readonly host?: string;
  readonly resolver?: DnsResolver;
  readonly name?: string;
  readonly limits?: Partial<SmtpLimits>;
}

/**
 * The `smtp` role: the SMTP listener over the shared services. Resolves once it is listening;
 * `close()` on shutdown, `reloadTls()` on SIGHUP.
 */
export function createSmtpIngress(context: AppContext, payloads: PayloadService, options: SmtpIngressOptions = {}): Promise<SmtpServerHandle> {
  return startSmtpServer({
    context,
    payloads,
    port: options.port ?? context.config.smtpPort,
    host: options.host ?? context.config.smtpHost,
    ...(options.resolver ? { resolver: options.resolver } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
}

/** The API side of e-mail ingest, for `registerApi`'s `routes`: `/v1/inboxes` and `GET /v1/payloads/:id/raw`. */
export function smtpApiRoutes(context: AppContext): ReadonlyArray<(v1: FastifyInstance) => Promise<void>> {
  const { db } = context.database;
  const inboxes = new InboxService(new InboxRepository(db, context.cipher), context.config.inboundDomain, context.audit.record);
  const repository = new PayloadRepository(db, context.cipher);
  return [(v1) => inboxRoutes(v1, { inboxes }), (v1) => rawMessageRoutes(v1, { repository, blobs: context.blobs })];
}
