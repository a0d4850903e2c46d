import { Option, type Command } from 'commander';
import { createPayloadService, registerApi } from '../../app/api.js';
import { openAppContext, type AppContext } from '../../app/app-context.js';
import { createLogger } from '../../app/logger.js';
import { startScheduler, type Scheduler } from '../../app/scheduler.js';
import { pingDatabase } from '../../db/database.js';
import { deliveryRoutes } from '../../delivery/delivery.routes.js';
import { startDeliveryWorker, type DeliveryWorker } from '../../delivery/delivery.worker.js';
import { destinationRoutes } from '../../delivery/destination.routes.js';
import { cappedEnqueue } from '../../delivery/outbox.repository.js';
import { OwnListeners } from '../../delivery/own-listeners.js';
import { buildHttpServer, type HttpServer } from '../../http/server.js';
import { createSmtpIngress, smtpApiRoutes } from '../../ingest/smtp/smtp-ingress.js';
import type { SmtpServerHandle } from '../../ingest/smtp/smtp.server.js';
import type { PayloadService } from '../../ingest/payload.service.js';
import { auditedReceipts } from '../../receipts/receipt-audit.js';
import { deliveredReceiptHook } from '../../receipts/receipt.hooks.js';
import { installSignalHandlers } from '../../http/signal-handlers.js';
import { installCrashHandlers } from '../../logging/crash-handlers.js';
import { configForCommand } from '../cli-support.js';

/** Roles this build can run; `all` runs every one in this process (DESIGN §1). */
const ROLES = ['all', 'api', 'smtp', 'worker', 'scheduler'] as const;
type Role = (typeof ROLES)[number];

/** Where customers reach the API (attachment links in envelopes). */
function publicUrl(context: AppContext): string {
  return context.config.publicUrl ?? `https://localhost:${context.config.httpPort}`;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run Sealpost: HTTPS API (SEALPOST_HTTP_PORT, default 8443), SMTP ingress (SEALPOST_SMTP_PORT, default 2525), delivery worker and scheduler; migrates the database first')
    .addOption(new Option('--role <role>', 'run only one role in this process (several workers may share one PostgreSQL)').choices(ROLES).default('all'))
    .action(async (options: { role: Role }) => {
      const config = configForCommand();
      const logger = createLogger(config.logLevel);
      // A long-running process: an error nothing caught is logged and ends it for the supervisor to restart.
      installCrashHandlers(logger);
      const context = await openAppContext(config, logger);
      const runs = (role: Exclude<Role, 'all'>): boolean => options.role === 'all' || options.role === role;
      // The API's listeners as every role sees them from the shared configuration (no self-loops).
      const ownListeners = OwnListeners.fromConfig({ ...config, publicUrl: publicUrl(context) });

      let worker: DeliveryWorker | undefined;
      let server: HttpServer | undefined;
      let scheduler: Scheduler | undefined;
      let smtp: SmtpServerHandle | undefined;
      const shutdown = async (): Promise<void> => {
        await server?.close();
        await smtp?.close();
        await worker?.stop();
        await scheduler?.stop();
        await context.close();
      };
      try {
        if (runs('worker')) {
          const { db, dialect } = context.database;
          worker = startDeliveryWorker({
            db,
            dialect,
            cipher: context.cipher,
            config,
            logger,
            signer: context.receipts.signer,
            ownListeners,
            hooks: {
              prepareSucceeded: auditedReceipts(deliveredReceiptHook(context.receipts.receipts), context.audit.log, context.receipts.repository),
              onDestinationDisabled: async (tx, info) => {
                await context.audit.log.append(tx, {
                  time: new Date().toISOString(),
                  tenant: info.tenantId,
                  actor: { type: 'system', id: 'delivery-worker' },
                  action: 'destination.disabled',
                  resource: info.destinationId,
                  details: { reason: info.reason },
                });
              },
            },
          });
        }
        const lines: string[] = [];
        const poke = worker ? () => worker?.poke() : undefined;
        const ingestHooks = { enqueue: cappedEnqueue(config), ...(poke ? { afterCommit: poke } : {}) };
        let payloads: PayloadService | undefined;
        if (runs('api')) {
          server = await buildHttpServer({ config, logger, readiness: () => pingDatabase(context.database.db) });
          const deliveryDeps = { db: context.database.db, cipher: context.cipher, audit: context.audit.record, config, ownListeners, ...(poke ? { poke } : {}) };
          ({ payloads } = await registerApi(server.app, context, {
            publicUrl: publicUrl(context),
            ingestHooks,
            routes: [(v1) => destinationRoutes(v1, deliveryDeps), (v1) => deliveryRoutes(v1, deliveryDeps), ...smtpApiRoutes(context)],
          }));
          const listening = await server.listen();
          ownListeners.addBound(config.httpHost, listening.port);
          const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? 'localhost' : config.httpHost;
          lines.push(`Sealpost ${options.role === 'all' ? '' : `(${options.role}) `}listening on https://${host}:${listening.port}`);
          if (listening.fingerprint) {
            lines.push(
              `${listening.certificateGenerated ? 'Generated a' : 'Using the'} self-signed TLS certificate in ${config.dataDir}/tls`,
              `  SHA-256 fingerprint: ${listening.fingerprint}`,
              '  Set SEALPOST_TLS_CERT and SEALPOST_TLS_KEY to serve a real certificate.',
            );
          }
        }
        if (runs('smtp')) {
          smtp = await createSmtpIngress(context, payloads ?? createPayloadService(context, publicUrl(context), ingestHooks));
          lines.push(`SMTP ingress (STARTTLS required) listening on ${config.smtpHost}:${smtp.port}`);
        }
        if (worker) lines.push(`Delivery worker ${worker.id} running`);
        if (runs('scheduler')) scheduler = startScheduler(context);
        installSignalHandlers(
          {
            reloadTls: async () => {
              await server?.reloadTls();
              await smtp?.reloadTls();
            },
            close: shutdown,
          },
          logger,
        );
        process.stderr.write(`${lines.join('\n')}\n`);
      } catch (err) {
        await shutdown().catch(() => undefined);
        throw err;
      }
    });
}
