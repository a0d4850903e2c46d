import { Option, type Command } from 'commander';
import type { ApiRole } from '../../app/api.js';
import { startMetrics } from '../../app/metrics.js';
import type { MetricsServer } from '../../ops/metrics.server.js';
import { processReadiness, readinessGate, type ReadinessParts } from '../../app/readiness.js';
import { START_ROLES, checkStartConfig, type StartRole } from '../../app/start-checks.js';
import { createLogger } from '../../logging/logger.js';
import { startScheduler, type Scheduler } from '../../app/scheduler.js';
import { createSealpost } from '../../app/sealpost.js';
import { startWorker } from '../../app/worker.js';
import type { DeliveryWorker } from '../../delivery/delivery.worker.js';
import type { SmtpServerHandle } from '../../ingest/smtp/smtp.server.js';
import { startHealthListener, type HealthListener } from '../../http/health-listener.js';
import { installSignalHandlers } from '../../http/signal-handlers.js';
import { installCrashHandlers } from '../../logging/crash-handlers.js';
import { withTimeout } from '../../util/timeout.js';
import { configForCommand } from '../cli-support.js';

type Role = StartRole;

/**
 * A referenced timer that keeps the process alive until shutdown: the roles' own timers are
 * unref'd (they must not hold a one-shot command open), so a scheduler or an idle worker would
 * otherwise end as soon as its database pool went idle.
 */
function keepAlive(): () => void {
  const timer = setInterval(() => undefined, 1 << 30);
  return () => clearInterval(timer);
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run Sealpost: HTTPS API (SEALPOST_HTTP_PORT, default 8443), SMTP ingress (SEALPOST_SMTP_PORT, default 2525), delivery worker and scheduler; migrates the database first; runs until SIGTERM')
    .addOption(new Option('--role <role>', 'run only one role in this process (several workers may share one PostgreSQL)').choices(START_ROLES).default('all'))
    .action(async (options: { role: Role }) => {
      const config = await configForCommand();
      await checkStartConfig(config, options.role);
      const logger = createLogger(config.logLevel);
      // A long-running process: an error nothing caught is logged and ends it for the supervisor to restart.
      installCrashHandlers(logger);
      const sealpost = await createSealpost(config, { logger });
      const runs = (role: Exclude<Role, 'all'>): boolean => options.role === 'all' || options.role === role;
      const release = keepAlive();

      let worker: DeliveryWorker | undefined;
      let api: ApiRole | undefined;
      let scheduler: Scheduler | undefined;
      let smtp: SmtpServerHandle | undefined;
      let metrics: MetricsServer | undefined;
      let health: HealthListener | undefined;
      const readiness = processReadiness(sealpost, (): ReadinessParts => ({ scheduler, worker }));
      const stopAll = async (): Promise<void> => {
        await api?.close();
        await metrics?.close();
        await smtp?.close();
        await worker?.stop();
        await scheduler?.stop();
        await health?.close();
        await sealpost.close();
      };
      // SIGTERM must end the process within SEALPOST_SHUTDOWN_TIMEOUT_SECONDS, whatever is in
      // flight: a supervisor waits that long before SIGKILL anyway. What is cut off is safe to
      // cut: unacknowledged requests are retried by their senders, and leased deliveries are
      // taken over by other workers once this one's heartbeat stops.
      const shutdown = async (): Promise<void> => {
        const timeoutMs = config.shutdownTimeoutSeconds * 1000;
        await withTimeout(stopAll(), timeoutMs, () => logger.warn({ timeoutMs }, 'shutdown timeout reached; exiting with work still in flight'));
        release();
      };
      try {
        if (runs('worker')) worker = startWorker(sealpost);
        const lines: string[] = [];
        if (runs('api')) {
          // The HTTPS server's graph (Fastify, its plugins, OpenAPI) loads only in a process that serves it.
          const { startApi } = await import('../../app/api.js');
          api = await startApi(sealpost, { readiness: readinessGate(readiness) });
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
          // The SMTP role's graph (smtp-server, mailparser, mailauth) loads only in a process that runs it.
          const { startSmtp } = await import('../../app/smtp.js');
          smtp = await startSmtp(sealpost);
          lines.push(`SMTP ingress (STARTTLS required) listening on ${config.smtpHost}:${smtp.port}`);
        }
        if (worker) lines.push(`Delivery worker ${worker.id} running`);
        if (runs('scheduler')) {
          scheduler = startScheduler(sealpost);
          lines.push(`Scheduler running (${scheduler.health().map((job) => job.name).join(', ')})`);
        }
        metrics = await startMetrics(sealpost);
        if (metrics) lines.push(`Prometheus metrics on http://${config.metricsHost}:${metrics.port}/metrics`);
        if (config.healthPort !== undefined) {
          health = await startHealthListener({ host: config.healthHost, port: config.healthPort, readiness, logger });
          lines.push(`Health: http://${config.healthHost}:${health.port}/healthz and /readyz`);
        }
        installSignalHandlers({ reloadTls: async () => {
          await api?.server.reloadTls();
          await smtp?.reloadTls();
        }, close: shutdown }, logger);
        process.stderr.write(`${lines.join('\n')}\n`);
        logger.info({ role: options.role, pid: process.pid, ...(health ? { healthPort: health.port } : {}) }, 'sealpost running');
      } catch (err) {
        await shutdown().catch(() => undefined);
        throw err;
      }
    });
}
