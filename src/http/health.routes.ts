import { withTimeout } from '../util/timeout.js';
import type { FastifyInstance } from 'fastify';
import { SealpostError } from '../errors/sealpost-error.js';
import { sendProblem } from './error-handler.js';

/**
 * A readiness check that hangs must still produce an answer: probes (Kubernetes, load balancers)
 * time out on their own after a few seconds and would count a hang the same as a failure anyway.
 */
export const READINESS_TIMEOUT_MS = 5_000;

export interface HealthRoutesOptions {
  /** Resolves when this process can serve traffic (database reachable, keys loaded…). */
  readonly readiness: () => Promise<void>;
  readonly readinessTimeoutMs?: number;
}

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string' } },
  required: ['status'],
  additionalProperties: false,
} as const;

/**
 * `/healthz` (liveness) answers as long as the event loop runs, so a restart is triggered only
 * by a wedged process; `/readyz` also checks dependencies, so traffic is withheld while they
 * are down without the process being killed.
 */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): Promise<void> {
  const timeoutMs = options.readinessTimeoutMs ?? READINESS_TIMEOUT_MS;

  app.get('/healthz', { schema: { response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { response: { 200: statusSchema } } }, async (request, reply) => {
    try {
      await withTimeout(options.readiness(), timeoutMs, () => {
        throw new Error(`readiness check did not finish within ${timeoutMs} ms`);
      });
      return { status: 'ok' };
    } catch (err) {
      // The cause goes to the log only: which dependency is down is for operators, not callers.
      request.log.warn({ err }, 'readiness check failed');
      return sendProblem(request, reply, new SealpostError('SP_ERR_HTTP_NOT_READY', 'Service is not ready to accept traffic'));
    }
  });
}
