import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { idPattern } from '../../crypto/ids.js';
import { authOf } from '../../http/auth.plugin.js';
import { mediaResponse } from '../../http/problem.schema.js';
import type { TenantExportService } from './tenant-export.service.js';

const ExportBody = Type.Object({ cursor: Type.Optional(Type.String({ pattern: idPattern('payload') })) }, { additionalProperties: false });

const ExportArchive = mediaResponse('a tar of the payloads and receipts (JSON Lines) with their attachments, streamed; `cursor` resumes after a payload', ['application/x-tar']);

/** `POST /v1/exports` (`payloads:read`): the calling key's tenant's payloads, receipts and attachments as a streamed tar; `cursor` resumes. */
export async function tenantExportRoutes(app: FastifyInstance, deps: { exports: TenantExportService }): Promise<void> {
  app.post<{ Body: Static<typeof ExportBody> | undefined }>(
    '/v1/exports',
    { schema: { body: Type.Optional(ExportBody), response: { 200: ExportArchive } } },
    async (request, reply) => {
      const auth = authOf(request);
      const archive = await deps.exports.export(auth.tenantId, request.body?.cursor, auth.actor);
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-disposition', `attachment; filename="sealpost-export-${auth.tenantId}.tar"`)
        .header('cache-control', 'no-store')
        .send(archive);
    },
  );
}
