import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SealpostError } from '../../errors/sealpost-error.js';
import { authOf } from '../../http/auth.plugin.js';
import type { EncryptedBlobStore } from '../../storage/encrypted-blob-store.js';
import type { PayloadRepository } from '../payload.repository.js';
import { rawMessageBlobContext, rawMessageBlobKey, rawMessageRefOf } from './raw-message.js';
import { idPattern } from '../../crypto/ids.js';
import { mediaResponse } from '../../http/problem.schema.js';

const IdParams = Type.Object({ id: Type.String({ pattern: idPattern('payload') }) });
const RawMessage = mediaResponse('the e-mail as received (RFC 5322), decrypted; `x-content-sha256` holds its SHA-256', ['message/rfc822']);

/** `GET /v1/payloads/:id/raw`: the message exactly as it was received over SMTP, decrypted. */
export async function rawMessageRoutes(app: FastifyInstance, deps: { repository: PayloadRepository; blobs: EncryptedBlobStore }): Promise<void> {
  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/payloads/:id/raw',
    { schema: { params: IdParams, response: { 200: RawMessage } } },
    async (request, reply) => {
      const tenantId = authOf(request).tenantId;
      const found = await deps.repository.find(tenantId, request.params.id);
      const ref = found ? rawMessageRefOf(JSON.parse(found.canonicalEnvelope.toString('utf8')) as { type: string; data: Record<string, unknown> }) : undefined;
      // Another tenant's payload and an HTTPS payload look the same: there is no raw e-mail here.
      if (!found || !ref) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No raw message for this payload');
      const stream = await deps.blobs.getDecrypted(rawMessageBlobKey(tenantId, ref.id), rawMessageBlobContext(tenantId, ref.id), tenantId);
      return reply
        .header('content-type', 'message/rfc822')
        .header('content-length', ref.size)
        .header('content-disposition', `attachment; filename="${request.params.id}.eml"`)
        .header('x-content-sha256', ref.sha256)
        .send(stream);
    },
  );
}
