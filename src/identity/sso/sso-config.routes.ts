import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { authOf } from '../../http/auth.plugin.js';
import { NoContent } from '../../http/problem.schema.js';
import type { OidcView, SamlView, SsoConfigService } from './sso-config.service.js';
import type { SsoDomain } from './sso-domain.repository.js';
import { verificationRecordName } from './sso-domain.js';

/*
 * Limits keep one setting's audit event within its 2 KiB of details (audit-event.ts) and bound
 * what a tenant stores; real values are far shorter.
 */
const Url = Type.String({ minLength: 1, maxLength: 300 });
const ScopeToken = Type.String({ minLength: 1, maxLength: 32, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }); // RFC 6749 §3.3
const PutOidcBody = Type.Object(
  {
    issuer: Url,
    client_id: Type.String({ minLength: 1, maxLength: 128 }),
    client_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    scopes: Type.Optional(Type.Array(ScopeToken, { maxItems: 8 })),
    mfa_amr: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { maxItems: 8 })),
    mfa_acr: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 4 })),
  },
  { additionalProperties: false },
);
const PutSamlBody = Type.Object(
  {
    idp_entity_id: Url,
    idp_sso_url: Url,
    idp_certificates: Type.Array(Type.String({ minLength: 1, maxLength: 8192 }), { minItems: 1, maxItems: 4 }),
    sp_entity_id: Type.Optional(Url),
    mfa_authn_contexts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 4 })),
  },
  { additionalProperties: false },
);
const DomainBody = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 254 }) }, { additionalProperties: false });
const DomainParams = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 254, pattern: '^[A-Za-z0-9.-]+$' }) });

const Stamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Strings = Type.Array(Type.String());
// The client secret is write-only: the view only says one is set.
const OidcSettingsView = Type.Object({
  issuer: Type.String(),
  client_id: Type.String(),
  client_secret_set: Type.Boolean(),
  scopes: Type.Optional(Strings),
  mfa_amr: Type.Optional(Strings),
  mfa_acr: Type.Optional(Strings),
  redirect_uri: Type.String({ description: 'register it at the IdP' }),
  created_at: Stamp,
  updated_at: Stamp,
});
const SamlSettingsView = Type.Object({
  idp_entity_id: Type.String(),
  idp_sso_url: Type.String(),
  idp_certificates: Strings,
  sp_entity_id: Type.Optional(Type.String()),
  acs_url: Type.String({ description: 'register it at the IdP' }),
  mfa_authn_contexts: Type.Optional(Strings),
  created_at: Stamp,
  updated_at: Stamp,
});
const DomainView = Type.Object({
  domain: Type.String(),
  verified: Type.Boolean(),
  txt_name: Type.String({ description: 'publish a TXT record of this name…' }),
  txt_value: Type.String({ description: '…with this value, then verify' }),
  created_at: Stamp,
  verified_at: Stamp,
});

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export async function ssoConfigRoutes(app: FastifyInstance, deps: { sso: SsoConfigService }): Promise<void> {
  const { sso } = deps;

  // The client secret is write-only: no answer carries it.
  const oidcView = (tenantId: string, v: OidcView): Record<string, unknown> => ({
    issuer: v.issuer,
    client_id: v.clientId,
    client_secret_set: true,
    scopes: v.scopes,
    mfa_amr: v.mfaAmr,
    mfa_acr: v.mfaAcr,
    redirect_uri: sso.oidcRedirectUri(tenantId),
    created_at: iso(v.createdAt),
    updated_at: iso(v.updatedAt),
  });
  const samlView = (tenantId: string, v: SamlView): Record<string, unknown> => ({
    idp_entity_id: v.idpEntityId,
    idp_sso_url: v.idpSsoUrl,
    idp_certificates: v.idpCertificates,
    sp_entity_id: v.spEntityId,
    acs_url: sso.samlAcsUrl(tenantId),
    mfa_authn_contexts: v.mfaAuthnContexts,
    created_at: iso(v.createdAt),
    updated_at: iso(v.updatedAt),
  });
  const domainView = (d: SsoDomain): Record<string, unknown> => ({
    domain: d.domain,
    verified: d.verifiedAt !== null,
    txt_name: verificationRecordName(d.domain),
    txt_value: d.verificationToken,
    created_at: iso(d.createdAt),
    verified_at: iso(d.verifiedAt),
  });

  app.get('/v1/sso/oidc', { schema: { response: { 200: OidcSettingsView } } }, async (request) => {
    const { tenantId } = authOf(request);
    return oidcView(tenantId, await sso.getOidc(tenantId));
  });
  app.put<{ Body: Static<typeof PutOidcBody> }>('/v1/sso/oidc', { schema: { body: PutOidcBody, response: { 200: OidcSettingsView } } }, async (request) => {
    const auth = authOf(request);
    const b = request.body;
    const saved = await sso.putOidc(
      auth.tenantId,
      {
        issuer: b.issuer,
        clientId: b.client_id,
        ...(b.client_secret === undefined ? {} : { clientSecret: b.client_secret }),
        ...(b.scopes === undefined ? {} : { scopes: b.scopes }),
        ...(b.mfa_amr === undefined ? {} : { mfaAmr: b.mfa_amr }),
        ...(b.mfa_acr === undefined ? {} : { mfaAcr: b.mfa_acr }),
      },
      auth.actor,
    );
    return oidcView(auth.tenantId, saved);
  });
  app.delete('/v1/sso/oidc', { schema: { response: { 204: NoContent } } }, async (request, reply) => {
    const auth = authOf(request);
    await sso.deleteOidc(auth.tenantId, auth.actor);
    return reply.code(204).send();
  });

  app.get('/v1/sso/saml', { schema: { response: { 200: SamlSettingsView } } }, async (request) => {
    const { tenantId } = authOf(request);
    return samlView(tenantId, await sso.getSaml(tenantId));
  });
  app.put<{ Body: Static<typeof PutSamlBody> }>('/v1/sso/saml', { schema: { body: PutSamlBody, response: { 200: SamlSettingsView } } }, async (request) => {
    const auth = authOf(request);
    const b = request.body;
    const saved = await sso.putSaml(
      auth.tenantId,
      {
        idpEntityId: b.idp_entity_id,
        idpSsoUrl: b.idp_sso_url,
        idpCertificates: b.idp_certificates,
        ...(b.sp_entity_id === undefined ? {} : { spEntityId: b.sp_entity_id }),
        ...(b.mfa_authn_contexts === undefined ? {} : { mfaAuthnContexts: b.mfa_authn_contexts }),
      },
      auth.actor,
    );
    return samlView(auth.tenantId, saved);
  });
  app.delete('/v1/sso/saml', { schema: { response: { 204: NoContent } } }, async (request, reply) => {
    const auth = authOf(request);
    await sso.deleteSaml(auth.tenantId, auth.actor);
    return reply.code(204).send();
  });

  app.get('/v1/sso/domains', { schema: { response: { 200: Type.Object({ data: Type.Array(DomainView) }) } } }, async (request) => ({ data: (await sso.listDomains(authOf(request).tenantId)).map(domainView) }));
  app.post<{ Body: Static<typeof DomainBody> }>('/v1/sso/domains', { schema: { body: DomainBody, response: { 201: DomainView } } }, async (request, reply) => {
    const auth = authOf(request);
    return reply.code(201).send(domainView(await sso.addDomain(auth.tenantId, request.body.domain, auth.actor)));
  });
  app.post<{ Params: Static<typeof DomainParams> }>('/v1/sso/domains/:domain/verify', { schema: { params: DomainParams, response: { 200: DomainView } } }, async (request) => {
    const auth = authOf(request);
    return domainView(await sso.verifyDomain(auth.tenantId, request.params.domain, auth.actor));
  });
  app.delete<{ Params: Static<typeof DomainParams> }>('/v1/sso/domains/:domain', { schema: { params: DomainParams, response: { 204: NoContent } } }, async (request, reply) => {
    const auth = authOf(request);
    await sso.removeDomain(auth.tenantId, request.params.domain, auth.actor);
    return reply.code(204).send();
  });
}
