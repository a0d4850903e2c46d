import { startMetricsServer, type MetricsServer } from '../ops/metrics.server.js';
import type { Sealpost } from './sealpost.js';

/**
 * The metrics listener of this process, whatever its role, when SEALPOST_METRICS_PORT is set:
 * each process counts its own ingests and attempts, and any of them reports the queues.
 */
export async function startMetrics(sealpost: Sealpost, options: { port?: number } = {}): Promise<MetricsServer | undefined> {
  const port = options.port ?? sealpost.config.metricsPort;
  if (port === undefined) return undefined;
  sealpost.metrics.collectProcessMetrics();
  return startMetricsServer({ host: sealpost.config.metricsHost, port, registry: sealpost.metrics.registry, logger: sealpost.logger });
}
