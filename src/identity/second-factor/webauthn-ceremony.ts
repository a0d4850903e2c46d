import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { SealpostError } from '../../errors/sealpost-error.js';
import { lazyImport } from '../../util/lazy-import.js';

/** Loaded at the first ceremony: a process that never sees a security key never loads it. */
const loadWebauthn = lazyImport(() => import('@simplewebauthn/server'));

/**
 * The WebAuthn ceremonies (@simplewebauthn/server), shared by operators' second factor and
 * staff sign-in. The caller stores credentials and challenges; this module checks origin, RP ID,
 * challenge, signature and (when asked) user verification.
 */
export interface WebauthnRelyingParty {
  /** The host of SEALPOST_PUBLIC_URL. */
  readonly rpID: string;
  /** The origin of SEALPOST_PUBLIC_URL: what browsers put in clientDataJSON. */
  readonly origin: string;
}

/** A stored credential: its id, COSE public key, signature counter and transports. */
export interface StoredWebauthnCredential {
  readonly id: string;
  readonly publicKey: Buffer;
  readonly counter: number;
  readonly transports: readonly string[];
}

/** A verified registration: what to store. */
export interface NewWebauthnCredential {
  readonly id: string;
  readonly publicKey: Buffer;
  readonly counter: number;
  readonly transports: readonly string[];
}

export function webauthnFailed(reason: string): SealpostError {
  return new SealpostError('SP_ERR_AUTH_SECOND_FACTOR_FAILED', 'Second factor not accepted', { logDetail: { reason } });
}

export async function registrationOptions(
  rp: WebauthnRelyingParty,
  user: { id: string; name: string },
  existing: readonly StoredWebauthnCredential[],
  userVerification: 'preferred' | 'required',
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await loadWebauthn();
  return generateRegistrationOptions({
    rpName: 'Sealpost',
    rpID: rp.rpID,
    userName: user.name,
    userID: Buffer.from(user.id, 'utf8'),
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.id, transports: [...c.transports] as AuthenticatorTransport[] })),
    authenticatorSelection: { residentKey: 'preferred', userVerification },
  });
}

export async function verifyRegistration(rp: WebauthnRelyingParty, response: RegistrationResponseJSON, challenge: string | null, requireUserVerification: boolean): Promise<NewWebauthnCredential> {
  if (!challenge) throw webauthnFailed('no pending WebAuthn registration');
  const { verifyRegistrationResponse } = await loadWebauthn();
  const verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID, requireUserVerification }).catch((err: unknown) => {
    throw webauthnFailed(`registration refused: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (!verified.verified) throw webauthnFailed('registration not verified');
  const { credential } = verified.registrationInfo;
  return { id: credential.id, publicKey: Buffer.from(credential.publicKey), counter: credential.counter, transports: credential.transports ?? [] };
}

export async function authenticationOptions(rp: WebauthnRelyingParty, credentials: readonly StoredWebauthnCredential[], userVerification: 'preferred' | 'required'): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await loadWebauthn();
  return generateAuthenticationOptions({
    rpID: rp.rpID,
    allowCredentials: credentials.map((c) => ({ id: c.id, transports: [...c.transports] as AuthenticatorTransport[] })),
    userVerification,
  });
}

/** Verifies an assertion by one of `credentials`; returns the credential used and its new counter. */
export async function verifyAssertion(
  rp: WebauthnRelyingParty,
  response: AuthenticationResponseJSON,
  challenge: string | null,
  credentials: readonly StoredWebauthnCredential[],
  requireUserVerification: boolean,
): Promise<{ credentialId: string; newCounter: number }> {
  if (!challenge) throw webauthnFailed('no pending WebAuthn challenge');
  const credential = credentials.find((c) => c.id === response.id);
  if (!credential) throw webauthnFailed('unknown credential');
  const { verifyAuthenticationResponse } = await loadWebauthn();
  const result = await verifyAuthenticationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.rpID,
    credential: { id: credential.id, publicKey: new Uint8Array(credential.publicKey), counter: credential.counter, transports: [...credential.transports] as AuthenticatorTransport[] },
    requireUserVerification,
  }).catch((err: unknown) => {
    throw webauthnFailed(`assertion refused: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (!result.verified) throw webauthnFailed('assertion not verified');
  return { credentialId: credential.id, newCounter: result.authenticationInfo.newCounter };
}
