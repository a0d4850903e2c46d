import type { Profile, SAML } from '@node-saml/node-saml';
import { SealpostError } from '../../errors/sealpost-error.js';
import { lazyImport } from '../../util/lazy-import.js';
import { samlAssertsMfa } from './mfa-rule.js';
import type { SamlSettings, StoredSetting } from './sso-config.repository.js';
import type { SsoConfigService } from './sso-config.service.js';
import { emailDomain } from './sso-domain.js';
import type { SsoLoginStateRepository } from './sso-login-state.repository.js';
import { emailRefused, loginRefused } from './sso-refusal.js';
import type { VerifiedSsoIdentity } from './sso-sign-in.port.js';

/** node-saml and its XML stack, loaded at the first SAML request: most processes never see one. */
const loadSaml = lazyImport(() => import('@node-saml/node-saml'));
const loadSamlXml = lazyImport(() => import('@node-saml/node-saml/lib/xml.js'));

/**
 * Clock skew tolerated on NotBefore / NotOnOrAfter: one minute. IdPs issue assertions valid for
 * a few minutes, so more tolerance would mostly lengthen the replay window.
 */
export const SAML_CLOCK_SKEW_MS = 60_000;
/** An assertion id longer than this is not one an IdP made (they are 20–60 characters). */
const MAX_ASSERTION_ID_CHARS = 256;
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const EMAIL_NAME_ID_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
/** Attribute names IdPs put the e-mail address in (eduPerson `mail`, its OID, Entra ID's claim URI). */
const EMAIL_ATTRIBUTES = ['email', 'mail', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'];

type XmlNode = { _?: string; $?: Record<string, string> } & Record<string, unknown>;

function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const value = node?.[name];
  return Array.isArray(value) ? (value as XmlNode[]) : [];
}

function text(node: XmlNode | undefined): string | undefined {
  return typeof node?._ === 'string' ? node._.trim() : undefined;
}

/** Maps node-saml's error messages (fixed strings) to a short reason for the log and audit. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/signature/i.test(message)) return 'invalid or missing signature';
  if (/audience/i.test(message)) return 'wrong audience';
  if (/expired|too old/i.test(message)) return 'expired assertion';
  if (/not yet valid/i.test(message)) return 'assertion not yet valid';
  if (/status|Responder|Requester/i.test(message)) return 'IdP returned an error status';
  return 'response failed validation';
}

/**
 * SAML 2.0 Web SSO for a tenant, IdP-initiated, HTTP-POST binding, through @node-saml/node-saml:
 * the assertion must be signed by one of the tenant's IdP certificates (a signed response alone
 * is not enough), name our entity id as audience, be within its validity window (±1 minute), and
 * name our ACS URL as recipient (and the response as destination, when it names one); its issuer
 * must be the tenant's IdP, and its id is accepted once.
 */
export class SamlLoginService {
  constructor(
    private readonly settings: SsoConfigService,
    private readonly states: SsoLoginStateRepository,
    private readonly now: () => number = Date.now,
  ) {}

  private async setting(tenantId: string): Promise<StoredSetting<SamlSettings>> {
    const stored = await this.settings.samlSettings(tenantId);
    if (!stored) throw new SealpostError('SP_ERR_SSO_NOT_CONFIGURED', 'SAML is not configured for this tenant');
    return stored;
  }

  private async saml(tenantId: string, settings: SamlSettings): Promise<SAML> {
    const { SAML, ValidateInResponseTo } = await loadSaml();
    return new SAML({
      idpCert: [...settings.idpCertificates],
      issuer: settings.spEntityId,
      audience: settings.spEntityId,
      callbackUrl: this.settings.samlAcsUrl(tenantId),
      entryPoint: settings.idpSsoUrl,
      idpIssuer: settings.idpEntityId,
      wantAssertionsSigned: true,
      // The assertion's own signature is required above; a signature over the whole response is
      // accepted in addition but not demanded (most IdPs sign only the assertion).
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: SAML_CLOCK_SKEW_MS,
      // IdP-initiated: there is no request to answer; replays are refused by assertion id instead.
      validateInResponseTo: ValidateInResponseTo.never,
      identifierFormat: EMAIL_NAME_ID_FORMAT,
    });
  }

  /** Our SP metadata for the tenant's IdP: entity id, ACS URL, signed assertions wanted. */
  async metadata(tenantId: string): Promise<string> {
    const { settings } = await this.setting(tenantId);
    const { generateServiceProviderMetadata } = await loadSaml();
    return generateServiceProviderMetadata({
      issuer: settings.spEntityId,
      callbackUrl: this.settings.samlAcsUrl(tenantId),
      wantAssertionsSigned: true,
      identifierFormat: EMAIL_NAME_ID_FORMAT,
    });
  }

  /** Verifies a POSTed `SAMLResponse` and returns the identity; throws SP_ERR_SSO_LOGIN_REFUSED / _EMAIL_REFUSED otherwise. */
  async acs(tenantId: string, samlResponse: string): Promise<VerifiedSsoIdentity> {
    const { settings } = await this.setting(tenantId);
    const acsUrl = this.settings.samlAcsUrl(tenantId);
    const saml = await this.saml(tenantId, settings);
    let profile: Profile | null;
    try {
      ({ profile } = await saml.validatePostResponseAsync({ SAMLResponse: samlResponse }));
    } catch (err) {
      throw loginRefused(reasonOf(err), err);
    }
    if (!profile) throw loginRefused('no assertion');

    // Only the signed assertion (getAssertion) is trusted below; the response around it is not signed.
    const assertion = (profile.getAssertion?.() as { Assertion?: XmlNode } | undefined)?.Assertion;
    if (!assertion) throw loginRefused('no assertion');
    if (text(children(assertion, 'Issuer')[0]) !== settings.idpEntityId) throw loginRefused('assertion from another issuer');
    const assertionId = assertion.$?.['ID'];
    if (!assertionId || assertionId.length > MAX_ASSERTION_ID_CHARS) throw loginRefused('assertion without a usable ID');

    // SAML Profiles §4.1.4.2–3: a bearer confirmation naming our ACS URL as Recipient, not expired.
    const now = this.now();
    const confirmations = children(children(assertion, 'Subject')[0], 'SubjectConfirmation').filter((c) => c.$?.['Method'] === BEARER);
    const data = confirmations.flatMap((c) => children(c, 'SubjectConfirmationData'));
    const live = data.filter((d) => {
      const until = Date.parse(d.$?.['NotOnOrAfter'] ?? '');
      return Number.isFinite(until) && now - SAML_CLOCK_SKEW_MS < until;
    });
    if (live.length === 0) throw loginRefused('no live bearer subject confirmation');
    if (!live.some((d) => d.$?.['Recipient'] === acsUrl)) throw loginRefused('wrong recipient');
    await this.checkEnvelope(samlResponse, acsUrl);

    const conditions = children(assertion, 'Conditions')[0];
    const notOnOrAfter = Math.min(...[conditions?.$?.['NotOnOrAfter'], ...live.map((d) => d.$?.['NotOnOrAfter'])].map((v) => Date.parse(v ?? '')).filter(Number.isFinite));
    if (!Number.isFinite(notOnOrAfter)) throw loginRefused('assertion without NotOnOrAfter');
    if (!(await this.states.rememberAssertion(tenantId, assertionId, notOnOrAfter + SAML_CLOCK_SKEW_MS, now))) throw loginRefused('replayed assertion');

    if (typeof profile.nameID !== 'string' || profile.nameID.length === 0) throw loginRefused('assertion without NameID');
    const email = this.emailOf(profile)?.toLowerCase();
    if (!email || email.length > 320) throw emailRefused('no e-mail');
    const domain = emailDomain(email);
    if (!domain || !(await this.settings.isDomainVerified(tenantId, domain))) throw emailRefused('e-mail domain not verified for the tenant');
    const classRefs = children(assertion, 'AuthnStatement')
      .flatMap((s) => children(s, 'AuthnContext'))
      .flatMap((c) => children(c, 'AuthnContextClassRef'))
      .map(text)
      .filter((v): v is string => v !== undefined);
    return { tenantId, email, subject: profile.nameID, provider: 'saml', mfaAsserted: samlAssertsMfa(classRefs, settings.mfaAuthnContexts) };
  }

  /**
   * SAML Core §3.2.2: a response that names a Destination must name the endpoint it reached. And
   * the assertion's signature must not rest on SHA-1 (collisions are practical since 2017): its
   * SignedInfo, which carries these algorithms, is covered by the signature just verified.
   */
  private async checkEnvelope(samlResponse: string, acsUrl: string): Promise<void> {
    const { parseDomFromString, xpath } = await loadSamlXml();
    const doc = await parseDomFromString(Buffer.from(samlResponse, 'base64').toString('utf8'));
    const destination = xpath.selectAttributes(doc, "/*[local-name()='Response']/@Destination")[0]?.nodeValue;
    if (destination != null && destination !== acsUrl) throw loginRefused('wrong destination');
    const signedInfo = "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']/*[local-name()='SignedInfo']";
    const algorithms = [
      ...xpath.selectAttributes(doc, `${signedInfo}/*[local-name()='SignatureMethod']/@Algorithm`),
      ...xpath.selectAttributes(doc, `${signedInfo}/*[local-name()='Reference']/*[local-name()='DigestMethod']/@Algorithm`),
    ].map((a) => a.nodeValue ?? '');
    if (algorithms.length === 0 || algorithms.some((a) => /sha1$/i.test(a))) throw loginRefused('SHA-1 or no signature algorithm');
  }

  private emailOf(profile: Profile): string | undefined {
    if (profile.nameIDFormat === EMAIL_NAME_ID_FORMAT && profile.nameID) return profile.nameID;
    for (const name of EMAIL_ATTRIBUTES) {
      const value = profile[name];
      if (typeof value === 'string') return value;
    }
    return undefined;
  }
}
