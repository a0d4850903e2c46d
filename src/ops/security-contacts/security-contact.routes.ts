import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../../http/auth.plugin.js';
import { MAX_SECURITY_CONTACTS, type SecurityContacts, type SecurityContactService } from './security-contact.service.js';

// The address rule is the service's (one place, and the answer names it); the schema bounds the size.
const PutBody = Type.Object(
  { contacts: Type.Array(Type.String({ minLength: 3, maxLength: 254 }), { maxItems: MAX_SECURITY_CONTACTS }) },
  { additionalProperties: false },
);

const ContactsView = Type.Object({
  contacts: Type.Array(Type.String(), { description: 'where breach notices are sent' }),
  notices_go_to: Type.Union([Type.Literal('security_contacts'), Type.Literal('owners')], { description: "with no contacts, notices go to the tenant's owners" }),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

function view(c: SecurityContacts): Static<typeof ContactsView> {
  return { contacts: [...c.contacts], notices_go_to: c.contacts.length > 0 ? 'security_contacts' : 'owners', updated_at: c.updatedAt === null ? null : new Date(c.updatedAt).toISOString() };
}

/**
 * `GET /v1/security-contacts` (policies:read: every role) and `PUT` (policies:manage: owners, in a
 * session; no key scope grants it): the caller's own tenant only.
 */
export async function securityContactRoutes(app: FastifyInstance, deps: { contacts: SecurityContactService }): Promise<void> {
  app.get('/v1/security-contacts', { schema: { response: { 200: ContactsView } } }, async (request) => view(await deps.contacts.get(authOf(request).tenantId)));

  app.put<{ Body: Static<typeof PutBody> }>('/v1/security-contacts', { schema: { body: PutBody, response: { 200: ContactsView } } }, async (request) => {
    const auth = authOf(request);
    return view(await deps.contacts.set(auth.tenantId, request.body.contacts, auth.actor));
  });
}
