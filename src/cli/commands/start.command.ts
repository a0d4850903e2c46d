import { Option, type Command } from 'commander';
import { startApi, type ApiRole } from '../../app/api.js';
import { startMetrics } from '../../app/metrics.js';
import type { MetricsServer } from '../../ops/metrics.server.js';
import { createLogger } from '../../logging/logger.js';
import { startScheduler, type Scheduler } from '../../app/scheduler.js';
import { createSealpost } from '../../app/sealpost.js';
import { startSmtp } from '../../app/smtp.js';
import { startWorker } from '../../app/worker.js';
import type { DeliveryWorker } from '../../delivery/delivery.worker.js';
import type { SmtpServerHandle } from '../../ingest/smtp/smtp.server.js';
import { installSignalHandlers } from '../../http/signal-handlers.js';
import { installCrashHandlers } from '../../logging/crash-handlers.js';
import { configForCommand } from '../cli-support.js';

/** Roles this build can run; `all` runs every one in this process (DESIGN §1). */
const ROLES = ['all', 'api', 'smtp', 'worker', 'scheduler'] as const;
type Role = (typeof ROLES)[number];

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
      const sealpost = await createSealpost(config, { logger });
      const runs = (role: Exclude<Role, 'all'>): boolean => options.role === 'all' || options.role === role;

      let worker: DeliveryWorker | undefined;
      let api: ApiRole | undefined;
      let scheduler: Scheduler | undefined;
      let smtp: SmtpServerHandle | undefined;
      let metrics: MetricsServer | undefined;
      const shutdown = async (): Promise<void> => {
        await api?.close();
        await metrics?.close();
        await smtp?.close();
        await worker?.stop();
        await scheduler?.stop();
        await sealpost.close();
      };
      try {
        if (runs('worker')) worker = startWorker(sealpost);
        const lines: string[] = [];
        if (runs('api')) {
          api = await startApi(sealpost);
          const { listening } = api;
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
          smtp = await startSmtp(sealpost);
          lines.push(`SMTP ingress (STARTTLS required) listening on ${config.smtpHost}:${smtp.port}`);
        }
        if (worker) lines.push(`Delivery worker ${worker.id} running`);
        if (runs('scheduler')) scheduler = startScheduler(sealpost);
        metrics = await startMetrics(sealpost);
        if (metrics) lines.push(`Prometheus metrics on http://${config.metricsHost}:${metrics.port}/metrics`);
        installSignalHandlers(
          {
            reloadTls: async () => {
              await api?.server.reloadTls();
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
