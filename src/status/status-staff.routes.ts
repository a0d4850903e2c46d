import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { idPattern } from '../crypto/ids.js';
import { staffOf } from '../http/auth.plugin.js';
import { COMPONENTS } from './component.js';
import { IMPACTS, INCIDENT_STATES, incidentFacts, type Incident, type IncidentUpdate } from './incidents/incident.js';
import { MAX_MESSAGE_CHARS, MAX_POSTMORTEM_CHARS, MAX_ROOT_CAUSE_CHARS, MAX_TITLE_CHARS, MAX_WAIVER_CHARS, type IncidentService } from './incidents/incident.service.js';
import { MAX_NOTE_CHARS, maintenanceView, type MaintenanceService } from './maintenance.service.js';

const ComponentList = Type.Array(Type.Union(COMPONENTS.map((c) => Type.Literal(c))), { minItems: 1, maxItems: COMPONENTS.length, uniqueItems: true });
const IncidentParams = Type.Object({ id: Type.String({ pattern: idPattern('incident') }) });
const MaintenanceParams = Type.Object({ id: Type.String({ pattern: idPattern('maintenance') }) });
const OpenBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: MAX_TITLE_CHARS }),
    impact: Type.Union(IMPACTS.map((i) => Type.Literal(i))),
    components: ComponentList,
    customer_visible: Type.Boolean(),
    message: Type.String({ minLength: 1, maxLength: MAX_MESSAGE_CHARS }),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  { state: Type.Union(INCIDENT_STATES.map((s) => Type.Literal(s))), message: Type.String({ minLength: 1, maxLength: MAX_MESSAGE_CHARS }) },
  { additionalProperties: false },
);
const PostmortemBody = Type.Object(
  { root_cause: Type.String({ minLength: 1, maxLength: MAX_ROOT_CAUSE_CHARS }), markdown: Type.String({ minLength: 1, maxLength: MAX_POSTMORTEM_CHARS }) },
  { additionalProperties: false },
);
const WaiverBody = Type.Object({ reason: Type.String({ minLength: 10, maxLength: MAX_WAIVER_CHARS }) }, { additionalProperties: false });
const MaintenanceBody = Type.Object(
  { components: ComponentList, starts_at: Type.String({ format: 'date-time' }), ends_at: Type.String({ format: 'date-time' }), note: Type.String({ minLength: 1, maxLength: MAX_NOTE_CHARS }) },
  { additionalProperties: false },
);

export function incidentView(incident: Incident): Record<string, unknown> {
  return {
    ...incidentFacts(incident),
    postmortem_waived: incident.postmortemWaiver !== null,
  };
}

export function updateView(update: IncidentUpdate): Record<string, unknown> {
  return JSON.parse(update.document) as Record<string, unknown>;
}

/**
 * The staff side of the status page (`/staff/v1/status/…`, `staff` rules in the permission
 * table): incidents, their updates, postmortems and waivers, maintenance windows. Each action
 * is audited with the staff member as its actor; the CLI (`sealpost incidents|maintenance`) does
 * the same as the system actor.
 */
export async function statusStaffRoutes(app: FastifyInstance, deps: { incidents: IncidentService; maintenance: MaintenanceService }): Promise<void> {
  app.post<{ Body: Static<typeof OpenBody> }>('/staff/v1/status/incidents', { schema: { body: OpenBody } }, async (request, reply) => {
    const b = request.body;
    const opened = await deps.incidents.open(staffOf(request).actor, { title: b.title, impact: b.impact, components: b.components, customerVisible: b.customer_visible, message: b.message });
    return reply.code(201).send({ ...incidentView(opened.incident), update: updateView(opened.update) });
  });

  app.post<{ Params: Static<typeof IncidentParams>; Body: Static<typeof UpdateBody> }>(
    '/staff/v1/status/incidents/:id/updates',
    { schema: { params: IncidentParams, body: UpdateBody } },
    async (request, reply) => {
      const posted = await deps.incidents.postUpdate(staffOf(request).actor, request.params.id, request.body);
      return reply.code(201).send({ ...incidentView(posted.incident), update: updateView(posted.update) });
    },
  );

  app.put<{ Params: Static<typeof IncidentParams>; Body: Static<typeof PostmortemBody> }>(
    '/staff/v1/status/incidents/:id/postmortem',
    { schema: { params: IncidentParams, body: PostmortemBody } },
    async (request, reply) => {
      const postmortem = await deps.incidents.publishPostmortem(staffOf(request).actor, request.params.id, { rootCause: request.body.root_cause, markdown: request.body.markdown });
      return reply.code(201).send(JSON.parse(postmortem.document) as Record<string, unknown>);
    },
  );

  app.post<{ Params: Static<typeof IncidentParams>; Body: Static<typeof WaiverBody> }>(
    '/staff/v1/status/incidents/:id/postmortem-waiver',
    { schema: { params: IncidentParams, body: WaiverBody } },
    async (request) => incidentView(await deps.incidents.waivePostmortem(staffOf(request).actor, request.params.id, request.body.reason)),
  );

  app.get('/staff/v1/status/maintenance', async () => ({ data: (await deps.maintenance.list()).map(maintenanceView) }));

  app.post<{ Body: Static<typeof MaintenanceBody> }>('/staff/v1/status/maintenance', { schema: { body: MaintenanceBody } }, async (request, reply) => {
    const b = request.body;
    const window = await deps.maintenance.schedule(staffOf(request).actor, { components: b.components, startsAt: Date.parse(b.starts_at), endsAt: Date.parse(b.ends_at), note: b.note });
    return reply.code(201).send(maintenanceView(window));
  });

  app.post<{ Params: Static<typeof MaintenanceParams> }>('/staff/v1/status/maintenance/:id/cancel', { schema: { params: MaintenanceParams } }, async (request) =>
    maintenanceView(await deps.maintenance.cancel(staffOf(request).actor, request.params.id)),
  );
}
