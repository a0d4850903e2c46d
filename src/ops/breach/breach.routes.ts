import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { idPattern } from '../../crypto/ids.js';
import { staffOf } from '../../http/auth.plugin.js';
import { mediaResponse } from '../../http/problem.schema.js';
import { MAX_BREACH_TENANTS, type BreachService, type BreachView, type NoticeView } from './breach.service.js';
import type { BreachRecord } from './breach.repository.js';

/** The form's body is one token: anything larger is not ours. */
const MAX_ACK_FORM_BYTES = 1_024;
/** A page with one form posting to itself: no script, no style, nothing from elsewhere. */
const ACK_CSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const TOKEN = Type.String({ pattern: '^spb_[A-Za-z0-9_-]{43}$' });

const DeclareBody = Type.Object(
  {
    title: Type.String({ minLength: 3, maxLength: 200 }),
    summary: Type.String({ minLength: 10, maxLength: 4_000, description: 'what the notice tells each affected tenant' }),
    tenants: Type.Array(Type.String({ pattern: idPattern('tenant') }), { minItems: 1, maxItems: MAX_BREACH_TENANTS }),
    incident_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);
const BreachParams = Type.Object({ id: Type.String({ pattern: idPattern('breach') }) });
const NoticeParams = Type.Object({ id: Type.String({ pattern: idPattern('breach') }), tenant: Type.String({ pattern: idPattern('tenant') }) });

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function noticeJson(n: NoticeView): Record<string, unknown> {
  return {
    tenant: n.tenantId,
    clock_started_at: iso(n.clockStartedAt),
    deadline_at: iso(n.deadlineAt),
    notified_at: iso(n.notifiedAt),
    notified_by: n.notifiedBy,
    notified_via: n.notifiedVia,
    recipients: n.recipients,
    acknowledged_at: iso(n.acknowledgedAt),
    alerted_48h_at: iso(n.alerted48hAt),
    alerted_66h_at: iso(n.alerted66hAt),
    evidence: n.evidence,
  };
}

export function breachJson(b: BreachRecord | BreachView): Record<string, unknown> {
  const base = { id: b.id, incident_id: b.incidentId, title: b.title, declared_by: b.declaredBy, declared_at: iso(b.declaredAt) };
  return 'notices' in b ? { ...base, notices: b.notices.map(noticeJson) } : base;
}

/** The staff API of the breach workflow (`staff` rules): declare, list, show, and record what happened outside Sealpost. */
export async function breachStaffRoutes(app: FastifyInstance, deps: { breaches: BreachService }): Promise<void> {
  app.post<{ Body: Static<typeof DeclareBody> }>('/staff/v1/breaches', { schema: { body: DeclareBody } }, async (request, reply) => {
    const body = request.body;
    const declared = await deps.breaches.declare({ title: body.title, summary: body.summary, tenants: body.tenants, incidentId: body.incident_id ?? null }, staffOf(request).actor);
    return reply.code(201).send(breachJson(declared));
  });
  app.get('/staff/v1/breaches', async () => ({ data: (await deps.breaches.list()).map(breachJson) }));
  app.get<{ Params: Static<typeof BreachParams> }>('/staff/v1/breaches/:id', { schema: { params: BreachParams } }, async (request) => breachJson(await deps.breaches.show(request.params.id)));
  app.post<{ Params: Static<typeof NoticeParams> }>('/staff/v1/breaches/:id/tenants/:tenant/notified', { schema: { params: NoticeParams } }, async (request) =>
    noticeJson(await deps.breaches.markNotified(request.params.id, request.params.tenant, staffOf(request).actor)),
  );
  app.post<{ Params: Static<typeof NoticeParams> }>('/staff/v1/breaches/:id/tenants/:tenant/ack', { schema: { params: NoticeParams } }, async (request) =>
    noticeJson(await deps.breaches.acknowledgeByStaff(request.params.id, request.params.tenant, staffOf(request).actor)),
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width,initial-scale=1">\n<title>${title}</title>\n</head>\n<body>\n<h1>${title}</h1>\n${body}\n</body>\n</html>\n`;
}

/**
 * The breach notice's one-time acknowledgement link (public: the token is the credential). GET
 * only shows a button, because mail scanners fetch links; POST records the acknowledgement.
 */
export async function breachAckRoutes(app: FastifyInstance, deps: { breaches: BreachService }): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_ACK_FORM_BYTES }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const html = { 200: mediaResponse('an HTML page', ['text/html']) };
  app.get<{ Querystring: { token: string } }>(
    '/v1/breach-notices/ack',
    { schema: { querystring: Type.Object({ token: TOKEN }, { additionalProperties: false }), response: html } },
    async (request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', ACK_CSP)
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-store')
        .send(
          page(
            'Acknowledge the security notice',
            // The token matched its pattern ([A-Za-z0-9_-]): nothing in it needs escaping.
            `<p>Confirm that your team received the security notice.</p>\n<form method="post" action="/v1/breach-notices/ack"><input type="hidden" name="token" value="${request.query.token}"><button type="submit">Acknowledge</button></form>`,
          ),
        ),
  );
  app.post<{ Body: { token: string } }>(
    '/v1/breach-notices/ack',
    { schema: { body: Type.Object({ token: TOKEN }, { additionalProperties: false }), response: html } },
    async (request, reply) => {
      const acked = await deps.breaches.acknowledge(request.body.token);
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', ACK_CSP)
        .header('cache-control', 'no-store')
        .send(page('Notice acknowledged', `<p>Thank you. Your acknowledgement of ${acked.breach} is recorded.</p>`));
    },
  );
}
