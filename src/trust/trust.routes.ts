import type { FastifyInstance } from 'fastify';
import { sendPage } from '../http/html/layout.js';
import { mediaResponse } from '../http/problem.schema.js';
import { TRUST_PAGE_PATH } from './security-txt.js';
import type { TrustFactsService } from './trust-facts.js';
import { TrustFactsSchema } from './trust-facts.schema.js';
import { renderTrustPage } from './trust-page.js';

export const TRUST_JSON_PATH = '/security.json';

/**
 * Public and read-only: the trust center page and its facts as JSON. Deployment-wide aggregates
 * and the operator's statements only, never a tenant's data; the facts are cached for seconds,
 * so neither route costs a query per request.
 */
export async function trustRoutes(app: FastifyInstance, deps: { facts: TrustFactsService }): Promise<void> {
  app.get(TRUST_PAGE_PATH, { schema: { response: { 200: mediaResponse('the trust center page (HTML, no script)', ['text/html']) } } }, async (_request, reply) => {
    const facts = await deps.facts.facts();
    return sendPage(reply, renderTrustPage(facts, { json: TRUST_JSON_PATH }), { cacheControl: 'public, max-age=5' });
  });
  app.get(TRUST_JSON_PATH, { schema: { response: { 200: TrustFactsSchema } } }, async (_request, reply) => {
    const facts = await deps.facts.facts();
    return reply.header('cache-control', 'public, max-age=5').send(facts);
  });
}
