import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { idPattern } from '../crypto/ids.js';
import { isSealpostError } from '../errors/sealpost-error.js';
import { authOf } from '../http/auth.plugin.js';
import { problemResponse } from '../http/problem.schema.js';
import type { DestinationTestService } from './destination-test.service.js';

const IdParams = Type.Object({ id: Type.String({ pattern: idPattern('destination') }) });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const TestResultView = Type.Object({
  webhook_id: Type.String({ description: 'the test event\'s webhook-id (msg_…)' }),
  key_id: Type.String({ description: 'the signing key that signed it (sealpost-key-id)' }),
  sent_at: Type.String({ format: 'date-time' }),
  ok: Type.Boolean({ description: 'the receiver answered 2xx' }),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Integer(),
  error_class: Type.Union([Type.String(), Type.Null()], { description: 'timeout, connect, dns, tls, ssrf_refused, loop_refused, http_status, …' }),
  error: NullableString,
  response_body: Type.Union([Type.String(), Type.Null()], { description: 'the first 4 KB of the answer, as UTF-8 (invalid bytes replaced)' }),
});

/**
 * `POST /v1/destinations/:id/test` ("send test event"): a signed `sealpost.test` event sent now
 * through the delivery engine's sender; the answer is the receiver's (status, duration, first
 * bytes) or the error. destinations:manage, and at most 5 per destination and minute.
 */
export async function destinationTestRoutes(app: FastifyInstance, deps: { tests: DestinationTestService }): Promise<void> {
  app.post<{ Params: Static<typeof IdParams> }>(
    '/v1/destinations/:id/test',
    {
      schema: {
        params: IdParams,
        response: { 200: TestResultView, 429: problemResponse('More than 5 test events for this destination this minute; see retry-after') },
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      try {
        const result = await deps.tests.send(auth.tenantId, request.params.id, auth.actor);
        return {
          webhook_id: result.webhookId,
          key_id: result.kid,
          sent_at: new Date(result.sentAt).toISOString(),
          ok: result.errorClass === null,
          status_code: result.statusCode,
          duration_ms: result.durationMs,
          error_class: result.errorClass,
          error: result.errorDetail,
          response_body: result.responseHead === null ? null : result.responseHead.toString('utf8'),
        };
      } catch (error) {
        const retryAfter = isSealpostError(error) ? error.logDetail?.['retryAfter'] : undefined;
        if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
        throw error;
      }
    },
  );
}
