import { X509Certificate, createHash } from 'node:crypto';
import type { AuditActor, AuditEvent } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { DEFAULT_OIDC_MFA_ACR, DEFAULT_OIDC_MFA_AMR, DEFAULT_SAML_MFA_AUTHN_CONTEXTS } from './mfa-rule.js';
import type { OidcSettings, SamlSettings, SsoConfigRepository, StoredSetting } from './sso-config.repository.js';
import type { SsoDomain, SsoDomainRepository } from './sso-domain.repository.js';
import { hasVerificationRecord, newVerificationToken, normaliseDomain, systemTxtResolver, type TxtResolver } from './sso-domain.js';

/** Enough for a group of companies' domains; more is a claim farm, not a use case. */
export const MAX_SSO_DOMAINS_PER_TENANT = 50;
/** The IdP's current and next certificates during a key rollover, and a spare. */
export const MAX_IDP_CERTIFICATES = 4;
/** Scopes always requested: the ID token and the verified e-mail the login needs. */
const REQUIRED_SCOPES = ['openid', 'email'] as const;

export interface OidcInput {
  readonly issuer: string;
  readonly clientId: string;
  /** Required for a new setting; omitted on a replacement, the stored secret is kept. */
  readonly clientSecret?: string;
  readonly scopes?: readonly string[];
  readonly mfaAmr?: readonly string[];
  readonly mfaAcr?: readonly string[];
}

export interface SamlInput {
  readonly idpEntityId: string;
  readonly idpSsoUrl: string;
  readonly idpCertificates: readonly string[];
  readonly spEntityId?: string;
  readonly mfaAuthnContexts?: readonly string[];
}

/** What `GET /v1/sso/oidc` shows: everything but the client secret. */
export type OidcView = Omit<OidcSettings, 'clientSecret'> & { readonly createdAt: number; readonly updatedAt: number };
export type SamlView = SamlSettings & { readonly createdAt: number; readonly updatedAt: number };

function invalid(message: string): SealpostError {
  return new SealpostError('SP_ERR_SSO_CONFIG_INVALID', message);
}

function notConfigured(protocol: string): SealpostError {
  return new SealpostError('SP_ERR_SSO_NOT_CONFIGURED', `No ${protocol} setting for this tenant`);
}

/** An https:// URL without credentials, query or fragment (an issuer identifier, OIDC Discovery §3). */
function checkUrl(value: string, what: string, allowHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${what} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) throw invalid(`${what} must be an https:// URL`);
  if (url.username || url.password) throw invalid(`${what} must not carry credentials`);
  if (url.hash) throw invalid(`${what} must not have a fragment`);
  return value;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** SHA-256 fingerprint (hex) of a PEM certificate; throws SP_ERR_SSO_CONFIG_INVALID when it does not parse. */
function fingerprint(pem: string): string {
  try {
    return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
  } catch {
    throw invalid('An IdP certificate is not a PEM X.509 certificate');
  }
}

/**
 * A tenant's SSO settings and e-mail domains (the admin API). Each change commits with its audit
 * event; client secrets never leave this service except to the login services.
 */
export class SsoConfigService {
  constructor(
    private readonly configs: SsoConfigRepository,
    private readonly domains: SsoDomainRepository,
    private readonly deps: {
      readonly audit: AuditRecorder;
      /** Base URL the IdPs reach this deployment at (redirect URI, ACS URL, default SP entity id). */
      readonly publicUrl: string;
      readonly resolveTxt?: TxtResolver;
      /** Tests only: lets an issuer be plain http:// on loopback. */
      readonly allowHttpIdp?: boolean;
      readonly now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private record(tenantId: string, actor: AuditActor, event: Pick<AuditEvent, 'action' | 'resource' | 'details'>) {
    return (tx: Parameters<AuditRecorder>[0]) => this.deps.audit(tx, { tenant: tenantId, actor, ...event });
  }

  /** Where the IdP sends the browser back after an OIDC login. */
  oidcRedirectUri(tenantId: string): string {
    return `${this.deps.publicUrl.replace(/\/$/, '')}/v1/auth/oidc/${tenantId}/callback`;
  }

  samlAcsUrl(tenantId: string): string {
    return `${this.deps.publicUrl.replace(/\/$/, '')}/v1/auth/saml/${tenantId}/acs`;
  }

  defaultSpEntityId(tenantId: string): string {
    return `${this.deps.publicUrl.replace(/\/$/, '')}/v1/auth/saml/${tenantId}/metadata`;
  }

  /** The OIDC setting with its secret, for the login service; undefined when none. */
  oidcSettings(tenantId: string): Promise<StoredSetting<OidcSettings> | undefined> {
    return this.configs.getOidc(tenantId);
  }

  samlSettings(tenantId: string): Promise<StoredSetting<SamlSettings> | undefined> {
    return this.configs.getSaml(tenantId);
  }

  async getOidc(tenantId: string): Promise<OidcView> {
    const stored = await this.configs.getOidc(tenantId);
    if (!stored) throw notConfigured('OIDC');
    const { clientSecret: _secret, ...visible } = stored.settings;
    return { ...visible, createdAt: stored.createdAt, updatedAt: stored.updatedAt };
  }

  async putOidc(tenantId: string, input: OidcInput, actor: AuditActor): Promise<OidcView> {
    const issuer = checkUrl(input.issuer, 'issuer', this.deps.allowHttpIdp === true);
    if (new URL(issuer).search) throw invalid('issuer must not have a query');
    const clientSecret = input.clientSecret ?? (await this.configs.getOidc(tenantId))?.settings.clientSecret;
    if (clientSecret == null) throw invalid('client_secret is required for a new OIDC setting');
    const settings: OidcSettings = {
      issuer,
      clientId: input.clientId,
      clientSecret,
      scopes: unique([...REQUIRED_SCOPES, ...(input.scopes ?? ['profile'])]),
      mfaAmr: unique(input.mfaAmr ?? DEFAULT_OIDC_MFA_AMR),
      mfaAcr: unique(input.mfaAcr ?? DEFAULT_OIDC_MFA_ACR),
    };
    await this.configs.putOidc(tenantId, settings, this.now(), (replaced) =>
      this.record(tenantId, actor, {
        action: 'sso.oidc_configured',
        details: {
          issuer: settings.issuer,
          client_id: settings.clientId,
          scopes: settings.scopes,
          mfa_amr: settings.mfaAmr,
          mfa_acr: settings.mfaAcr,
          replaced,
          client_auth_changed: input.clientSecret !== undefined,
        },
      }),
    );
    return this.getOidc(tenantId);
  }

  async deleteOidc(tenantId: string, actor: AuditActor): Promise<void> {
    if (!(await this.configs.deleteOidc(tenantId, this.record(tenantId, actor, { action: 'sso.oidc_removed' })))) throw notConfigured('OIDC');
  }

  async getSaml(tenantId: string): Promise<SamlView> {
    const stored = await this.configs.getSaml(tenantId);
    if (!stored) throw notConfigured('SAML');
    return { ...stored.settings, createdAt: stored.createdAt, updatedAt: stored.updatedAt };
  }

  async putSaml(tenantId: string, input: SamlInput, actor: AuditActor): Promise<SamlView> {
    const certificates = unique(input.idpCertificates.map((pem) => pem.trim()));
    if (certificates.length === 0 || certificates.length > MAX_IDP_CERTIFICATES) throw invalid(`Give 1 to ${MAX_IDP_CERTIFICATES} IdP certificates`);
    const fingerprints = certificates.map(fingerprint);
    const settings: SamlSettings = {
      idpEntityId: input.idpEntityId,
      idpSsoUrl: checkUrl(input.idpSsoUrl, 'idp_sso_url', false),
      idpCertificates: certificates,
      spEntityId: input.spEntityId ?? this.defaultSpEntityId(tenantId),
      mfaAuthnContexts: unique(input.mfaAuthnContexts ?? DEFAULT_SAML_MFA_AUTHN_CONTEXTS),
    };
    await this.configs.putSaml(tenantId, settings, this.now(), (replaced) =>
      this.record(tenantId, actor, {
        action: 'sso.saml_configured',
        details: {
          idp_entity_id: settings.idpEntityId,
          idp_sso_url: settings.idpSsoUrl,
          sp_entity_id: settings.spEntityId,
          certificate_sha256: fingerprints,
          mfa_authn_contexts: settings.mfaAuthnContexts,
          replaced,
        },
      }),
    );
    return this.getSaml(tenantId);
  }

  async deleteSaml(tenantId: string, actor: AuditActor): Promise<void> {
    if (!(await this.configs.deleteSaml(tenantId, this.record(tenantId, actor, { action: 'sso.saml_removed' })))) throw notConfigured('SAML');
  }

  listDomains(tenantId: string): Promise<SsoDomain[]> {
    return this.domains.list(tenantId);
  }

  /** Claims a domain (unverified); claiming one the tenant already claims returns that claim. */
  async addDomain(tenantId: string, input: string, actor: AuditActor): Promise<SsoDomain> {
    const domain = normaliseDomain(input);
    const existing = await this.domains.find(tenantId, domain);
    if (existing) return existing;
    // Checked before the insert, not atomically: an abuse bound, not a billing one.
    if ((await this.domains.count(tenantId)) >= MAX_SSO_DOMAINS_PER_TENANT) {
      throw new SealpostError('SP_ERR_SSO_DOMAIN_LIMIT_REACHED', `A tenant may claim at most ${MAX_SSO_DOMAINS_PER_TENANT} SSO domains`);
    }
    const claim: SsoDomain = { domain, verificationToken: newVerificationToken(), createdAt: this.now(), verifiedAt: null };
    try {
      await this.domains.insert(tenantId, claim, this.record(tenantId, actor, { action: 'sso.domain_added', details: { domain } }));
    } catch (err) {
      // A concurrent claim of the same domain by the same tenant won the race: show it.
      const raced = isUniqueViolation(err) ? await this.domains.find(tenantId, domain) : undefined;
      if (raced) return raced;
      throw err;
    }
    return claim;
  }

  /**
   * Checks the TXT record `_sealpost-verify.<domain>` for the claim's token and marks the domain
   * verified. Refused when the record is missing, or another tenant verified the domain first.
   */
  async verifyDomain(tenantId: string, input: string, actor: AuditActor): Promise<SsoDomain> {
    const domain = normaliseDomain(input);
    const claim = await this.domains.find(tenantId, domain);
    if (!claim) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such SSO domain');
    if (claim.verifiedAt !== null) return claim;
    if (!(await hasVerificationRecord(this.deps.resolveTxt ?? systemTxtResolver, domain, claim.verificationToken))) {
      throw new SealpostError('SP_ERR_SSO_DOMAIN_UNVERIFIED', `No TXT record at _sealpost-verify.${domain} carries this domain's token (yet)`);
    }
    try {
      await this.domains.markVerified(tenantId, domain, this.now(), this.record(tenantId, actor, { action: 'sso.domain_verified', details: { domain } }));
    } catch (err) {
      if (isUniqueViolation(err)) throw new SealpostError('SP_ERR_SSO_DOMAIN_TAKEN', 'This domain is verified for another tenant');
      throw err;
    }
    return (await this.domains.find(tenantId, domain)) ?? claim;
  }

  async removeDomain(tenantId: string, input: string, actor: AuditActor): Promise<void> {
    const domain = normaliseDomain(input);
    if (!(await this.domains.delete(tenantId, domain, this.record(tenantId, actor, { action: 'sso.domain_removed', details: { domain } })))) {
      throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such SSO domain');
    }
  }

  /** True when the tenant verified this (normalised) domain: the gate of every SSO login. */
  isDomainVerified(tenantId: string, domain: string): Promise<boolean> {
    return this.domains.isVerified(tenantId, domain);
  }
}
