// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { signXml } from '@node-saml/node-saml/lib/xml.js';

export interface IdpKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

/** An IdP signing key and its self-signed certificate, as an IdP's metadata would publish it. */
export async function idpKeyPair(name: string): Promise<IdpKeyPair> {
  const keys = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: `CN=${name}`,
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: RSA,
    keys,
  }, webcrypto);
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { certPem: cert.toString('pem'), keyPem };
}

export interface AssertionOptions {
  issuer: string;
  audience: string;
  recipient: string;
  /** The Response's Destination; omitted when undefined. */
  destination?: string;
  email: string;
  /** Validity window of the assertion (Conditions and the bearer confirmation). */
  notBefore: Date;
  notOnOrAfter: Date;
  authnContextClassRef?: string;
  assertionId?: string;
  /** Leaves the NameID out (the e-mail then travels in an `email` attribute). */
  omitNameId?: boolean;
}

const iso = (d: Date): string => d.toISOString();

/** A SAML 2.0 Response with one assertion, as an IdP posts it (unsigned: sign with signAssertion). */
export function samlResponseXml(o: AssertionOptions): string {
  const now = new Date();
  const assertionId = o.assertionId ?? `_a${randomBytes(16).toString('hex')}`;
  return [
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${iso(now)}"${o.destination === undefined ? '' : ` Destination="${o.destination}"`}>`,
    `<saml:Issuer>${o.issuer}</saml:Issuer>`,
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>`,
    `<saml:Assertion ID="${assertionId}" Version="2.0" IssueInstant="${iso(now)}">`,
    `<saml:Issuer>${o.issuer}</saml:Issuer>`,
    `<saml:Subject>${o.omitNameId ? '' : `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.email}</saml:NameID>`}`,
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(o.notOnOrAfter)}" Recipient="${o.recipient}"/></saml:SubjectConfirmation></saml:Subject>`,
    `<saml:Conditions NotBefore="${iso(o.notBefore)}" NotOnOrAfter="${iso(o.notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${o.audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`,
    ...(o.omitNameId ? [`<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${o.email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`] : []),
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>${o.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
    `</saml:Assertion>`,
    `</samlp:Response>`,
  ].join('');
}

const RESPONSE = '/*[local-name(.)="Response" and namespace-uri(.)="urn:oasis:names:tc:SAML:2.0:protocol"]';
const ASSERTION = `${RESPONSE}/*[local-name(.)="Assertion" and namespace-uri(.)="urn:oasis:names:tc:SAML:2.0:assertion"]`;
const ISSUER = '/*[local-name(.)="Issuer" and namespace-uri(.)="urn:oasis:names:tc:SAML:2.0:assertion"]';

/** Signs the assertion (enveloped XML-DSig, RSA-SHA256, after its Issuer), as IdPs do; xml-crypto through node-saml's helper. */
export function signAssertion(xml: string, key: IdpKeyPair, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  return signXml(xml, ASSERTION, { reference: ASSERTION + ISSUER, action: 'after' }, { privateKey: key.keyPem, publicCert: key.certPem, signatureAlgorithm: algorithm, digestAlgorithm: algorithm });
}

/** Signs the whole response only (its assertion stays unsigned). */
export function signResponse(xml: string, key: IdpKeyPair): string {
  return signXml(xml, RESPONSE, { reference: RESPONSE + ISSUER, action: 'after' }, { privateKey: key.keyPem, publicCert: key.certPem, signatureAlgorithm: 'sha256', digestAlgorithm: 'sha256' });
}

export function encodeResponse(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}
