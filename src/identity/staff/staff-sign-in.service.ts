import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type * as Oidc from 'openid-client';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { isSealpostError, SealpostError } from '../../errors/sealpost-error.js';
import { authenticationOptions, registrationOptions, verifyAssertion, verifyRegistration, type WebauthnRelyingParty } from '../second-factor/webauthn-ceremony.js';
import { csrfTokenFor } from '../sessions/session-cookie.js';
import { IDP_TIMEOUT_SECONDS, loadOpenidClient } from '../sso/idp-fetch.js';
import { isNetworkFailure, libraryCode, LOGIN_STATE_TTL_MS } from '../sso/oidc-login.service.js';
import { newStaffToken, staffCookie, tokenSha256 } from './staff-cookie.js';
import type { StaffConsolePrincipal } from './staff-principal.js';
import type { StaffMember, StaffRepository } from './staff.repository.js';

/** Staff sessions are short: unused for 15 minutes, or 4 hours after sign-in (the longest grant), they end. */
export const STAFF_IDLE_MS = 15 * 60_000;
export const STAFF_ABSOLUTE_MS = 4 * 3_600_000;
/** The one-time WebAuthn enrolment code `sealpost staff add` prints is good for a day. */
export const ENROLMENT_CODE_TTL_MS = 24 * 3_600_000;
const DISCOVERY_TTL_MS = 10 * 60_000;

/** The deployment's own OIDC provider (SEALPOST_STAFF_OIDC_*). */
export interface StaffOidcSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface IssuedStaffSession {
  readonly sessionId: string;
  readonly csrfToken: string;
  readonly setCookie: string;
}

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A refused staff sign-in; `reason` is a fixed phrase for the log and the audit event, never shown. */
export function staffSignInRefused(reason: string, cause?: unknown, library?: string): SealpostError {
  return new SealpostError('SP_ERR_STAFF_SIGN_IN_REFUSED', 'Staff sign-in refused', { cause, logDetail: { reason, ...(library ? { library_code: library } : {}) } });
}

function unauthenticated(reason: string): SealpostError {
  return new SealpostError('SP_ERR_AUTH_UNAUTHENTICATED', 'Missing or invalid credentials', { logDetail: { reason } });
}

/**
 * Staff sign-in (issue 11): the deployment's own OIDC provider (authorization code + PKCE, state
 * and nonce, through openid-client and the SSRF-guarded IdP fetch of src/identity/sso/), for an
 * e-mail on the staff allow-list (`sealpost staff add`), **and** a WebAuthn credential with user
 * verification (src/identity/second-factor/webauthn-ceremony.ts). No passwords, no API keys.
 */
export class StaffSignInService {
  private discovered: { config: Oidc.Configuration; until: number } | undefined;

  constructor(
    private readonly repository: StaffRepository,
    private readonly deps: {
      readonly oidc: StaffOidcSettings | undefined;
      readonly redirectUri: string;
      readonly fetch: Oidc.CustomFetch;
      readonly allowHttpIdp?: boolean;
      readonly rp: WebauthnRelyingParty;
      readonly now: () => number;
      readonly db: Kysely<Database>;
      readonly audit: AuditRecorder;
    },
  ) {}

  private async record(event: { actor: AuditActor; action: 'staff.added' | 'staff.disabled' | 'staff.credential_enrolled' | 'staff.signed_in' | 'staff.sign_in_refused'; resource?: string; details?: Record<string, string> }, tx?: Kysely<Database>): Promise<void> {
    const write = (db: Kysely<Database>) => this.deps.audit(db, { tenant: null, ...event });
    if (tx) await write(tx);
    else await this.deps.db.transaction().execute(write);
  }

  /** Enrols a staff identity (CLI): its e-mail joins the allow-list; returns the one-time WebAuthn enrolment code. */
  async add(email: string, actor: AuditActor): Promise<{ staff: StaffMember; enrolmentCode: string }> {
    const normalized = email.trim().toLowerCase();
    if (!/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(normalized)) throw new SealpostError('SP_ERR_HTTP_BAD_REQUEST', 'Not an e-mail address');
    if (await this.repository.memberByEmail(normalized)) throw new SealpostError('SP_ERR_STAFF_EXISTS', 'This e-mail is already enrolled as staff');
    const now = this.deps.now();
    const staff: StaffMember = { id: newId('staff', now), email: normalized, idpSubject: null, createdAt: now, disabledAt: null };
    const enrolmentCode = randomBytes(16).toString('base64url');
    await this.deps.db.transaction().execute(async (tx) => {
      await this.repository.insertMember(staff, { codeSha256: sha256(enrolmentCode), expiresAt: now + ENROLMENT_CODE_TTL_MS }, tx);
      await this.record({ actor, action: 'staff.added', resource: staff.id, details: { email: normalized } }, tx);
    });
    return { staff, enrolmentCode };
  }

  /** Offboards a staff member (CLI): no more sign-ins, sessions ended at once; their grants stop with their sessions. */
  async disable(email: string, actor: AuditActor): Promise<StaffMember> {
    const staff = await this.repository.memberByEmail(email.trim().toLowerCase());
    if (!staff) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such staff member');
    const now = this.deps.now();
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.repository.disable(staff.id, now, tx))) return;
      await this.record({ actor, action: 'staff.disabled', resource: staff.id, details: { email: staff.email } }, tx);
    });
    return { ...staff, disabledAt: staff.disabledAt ?? now };
  }

  list(): Promise<StaffMember[]> {
    return this.repository.members();
  }

  private settings(): StaffOidcSettings {
    if (!this.deps.oidc) throw new SealpostError('SP_ERR_STAFF_NOT_CONFIGURED', 'Staff sign-in is not configured (SEALPOST_STAFF_OIDC_*)');
    return this.deps.oidc;
  }

  private async configuration(): Promise<Oidc.Configuration> {
    const settings = this.settings();
    if (this.discovered && this.discovered.until > this.deps.now()) return this.discovered.config;
    const oidc = await loadOpenidClient();
    try {
      const config = await oidc.discovery(new URL(settings.issuer), settings.clientId, undefined, oidc.ClientSecretBasic(settings.clientSecret), {
        [oidc.customFetch]: this.deps.fetch,
        timeout: IDP_TIMEOUT_SECONDS,
        ...(this.deps.allowHttpIdp ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      this.discovered = { config, until: this.deps.now() + DISCOVERY_TTL_MS };
      return config;
    } catch (err) {
      throw new SealpostError('SP_ERR_SSO_IDP_UNAVAILABLE', 'The identity provider could not be reached or its metadata is invalid', {
        cause: err,
        logDetail: { reason: isNetworkFailure(err) ? 'staff IdP discovery unreachable' : 'staff IdP discovery refused' },
      });
    }
  }

  async start(): Promise<{ authorizationUrl: string; binding: string }> {
    const config = await this.configuration();
    const oidc = await loadOpenidClient();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const binding = randomBytes(32).toString('base64url');
    const now = this.deps.now();
    await this.repository.insertLoginState(sha256(state), sha256(binding), { nonce, codeVerifier }, now + LOGIN_STATE_TTL_MS, now);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.deps.redirectUri,
      scope: 'openid email',
      response_type: 'code',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { authorizationUrl: url.href, binding };
  }

  /**
   * Finishes the OIDC step: a session that reaches only the WebAuthn step. Refusals are recorded
   * (`staff.sign_in_refused`, while `admitRefusal` allows) and answered alike.
   */
  async callback(query: string, binding: string | undefined, admitRefusal: () => boolean = () => true): Promise<{ issued: IssuedStaffSession; staff: StaffMember; enrolled: boolean }> {
    try {
      const staff = await this.verifyOidc(query, binding);
      const issued = await this.issue(staff.id);
      return { issued, staff, enrolled: (await this.repository.credentials(staff.id)).length > 0 };
    } catch (err) {
      // Anyone can call the callback: past a few refusals per client and minute they are only counted (api.refused).
      if (isSealpostError(err) && err.code === 'SP_ERR_STAFF_SIGN_IN_REFUSED' && admitRefusal()) {
        await this.record({ actor: { type: 'system', id: 'staff-oidc' }, action: 'staff.sign_in_refused', details: { step: 'oidc', reason: String(err.logDetail?.['reason'] ?? 'unspecified') } });
      }
      throw err;
    }
  }

  private async verifyOidc(query: string, binding: string | undefined): Promise<StaffMember> {
    const params = new URLSearchParams(query);
    const state = params.get('state');
    if (!state) throw staffSignInRefused('no state');
    const login = await this.repository.takeLoginState(sha256(state));
    if (!login) throw staffSignInRefused('unknown or used state');
    if (login.expiresAt <= this.deps.now()) throw staffSignInRefused('expired state');
    if (!binding || !sameHash(sha256(binding), login.browserSha256)) throw staffSignInRefused('state started by another browser');
    const config = await this.configuration();
    const callbackUrl = new URL(this.deps.redirectUri);
    callbackUrl.search = query;
    const oidc = await loadOpenidClient();
    let tokens: Awaited<ReturnType<typeof Oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: login.secrets.codeVerifier, expectedState: state, expectedNonce: login.secrets.nonce, idTokenExpected: true });
    } catch (err) {
      throw staffSignInRefused(isNetworkFailure(err) ? 'token endpoint unreachable' : 'token response refused', err, libraryCode(err));
    }
    const claims = tokens.claims();
    if (!claims) throw staffSignInRefused('no ID token');
    let profile: { email?: unknown; email_verified?: unknown } = claims as Readonly<Record<string, unknown>>;
    if (profile.email === undefined || profile.email_verified === undefined) {
      try {
        profile = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)) };
      } catch (err) {
        throw staffSignInRefused('userinfo refused', err, libraryCode(err));
      }
    }
    if (typeof profile.email !== 'string' || profile.email_verified !== true) throw staffSignInRefused('no verified e-mail');
    const staff = await this.repository.memberByEmail(profile.email.toLowerCase());
    if (!staff || staff.disabledAt !== null) throw staffSignInRefused('e-mail not on the staff allow-list');
    // The first login binds the IdP subject: an address later reassigned at the IdP is not the same person.
    if (staff.idpSubject === null) {
      if (!(await this.repository.bindSubject(staff.id, claims.sub))) throw staffSignInRefused('subject bound concurrently');
    } else if (staff.idpSubject !== claims.sub) {
      throw staffSignInRefused('IdP subject differs from the bound one');
    }
    return staff;
  }

  private async issue(staffId: string): Promise<IssuedStaffSession> {
    const token = newStaffToken();
    const now = this.deps.now();
    const sessionId = newId('staffSession', now);
    await this.repository.insertSession({ id: sessionId, staffId, webauthnSatisfied: false, createdAt: now, lastSeenAt: now, revokedAt: null }, tokenSha256(token));
    return { sessionId, csrfToken: csrfTokenFor(token), setCookie: staffCookie(token, STAFF_ABSOLUTE_MS / 1000) };
  }

  /** The staff member behind a staff cookie, or 401 (unknown, revoked, expired, disabled: all alike). */
  async authenticate(token: string): Promise<StaffConsolePrincipal> {
    const session = await this.repository.sessionByTokenHash(tokenSha256(token));
    if (!session) throw unauthenticated('unknown staff session');
    const now = this.deps.now();
    if (session.revokedAt !== null) throw unauthenticated(`staff session ${session.id}: revoked`);
    if (now - session.lastSeenAt > STAFF_IDLE_MS) throw unauthenticated(`staff session ${session.id}: idle timeout`);
    if (now - session.createdAt > STAFF_ABSOLUTE_MS) throw unauthenticated(`staff session ${session.id}: absolute timeout`);
    const staff = await this.repository.member(session.staffId);
    if (!staff || staff.disabledAt !== null) throw unauthenticated(`staff session ${session.id}: staff disabled`);
    await this.repository.touchSession(session.id, now);
    return {
      kind: 'staff_console',
      staffId: staff.id,
      email: staff.email,
      sessionId: session.id,
      webauthnSatisfied: session.webauthnSatisfied,
      csrfToken: csrfTokenFor(token),
      actor: { type: 'staff', id: staff.id },
      rateKey: `staff:${session.id}`,
    };
  }

  /** Enrolment options, only for a staff member with no credential yet (a second one is added by a signed-in session... not offered). */
  async registrationOptions(principal: StaffConsolePrincipal): Promise<PublicKeyCredentialCreationOptionsJSON> {
    if ((await this.repository.credentials(principal.staffId)).length > 0) {
      throw new SealpostError('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED', 'A credential is enrolled: sign in with it');
    }
    const options = await registrationOptions(this.deps.rp, { id: principal.staffId, name: principal.email }, [], 'required');
    await this.repository.setChallenge(principal.sessionId, options.challenge);
    return options;
  }

  /**
   * Enrols the first WebAuthn credential: needs the one-time code `sealpost staff add` printed, so
   * that someone holding only the staff member's IdP account cannot enrol their own key. User
   * verification is required. Completes the sign-in.
   */
  async register(principal: StaffConsolePrincipal, response: RegistrationResponseJSON, enrolmentCode: string): Promise<IssuedStaffSession> {
    if ((await this.repository.credentials(principal.staffId)).length > 0) throw new SealpostError('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED', 'A credential is enrolled: sign in with it');
    const challenge = await this.repository.takeChallenge(principal.sessionId);
    const credential = await this.refusing(principal, 'enrolment', () => verifyRegistration(this.deps.rp, response, challenge, true));
    const now = this.deps.now();
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.repository.takeEnrolmentCode(principal.staffId, sha256(enrolmentCode), now, tx))) throw staffSignInRefused('wrong, used or expired enrolment code');
      await this.repository.addCredential({ ...credential, staffId: principal.staffId }, now, tx);
      await this.record({ actor: principal.actor, action: 'staff.credential_enrolled', resource: principal.staffId }, tx);
    }).catch(async (err: unknown) => {
      if (isSealpostError(err) && err.code === 'SP_ERR_STAFF_SIGN_IN_REFUSED') await this.record({ actor: principal.actor, action: 'staff.sign_in_refused', details: { step: 'enrolment', reason: 'enrolment code refused' } });
      throw err;
    });
    return this.satisfy(principal);
  }

  async authenticationOptions(principal: StaffConsolePrincipal): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const credentials = await this.repository.credentials(principal.staffId);
    if (credentials.length === 0) throw new SealpostError('SP_ERR_STAFF_NOT_ENROLLED', 'Enrol a WebAuthn credential first');
    const options = await authenticationOptions(this.deps.rp, credentials, 'required');
    await this.repository.setChallenge(principal.sessionId, options.challenge);
    return options;
  }

  /** The WebAuthn step (user verification required); rotates the session token and completes the sign-in. */
  async verify(principal: StaffConsolePrincipal, response: AuthenticationResponseJSON): Promise<IssuedStaffSession> {
    const challenge = await this.repository.takeChallenge(principal.sessionId);
    const credentials = await this.repository.credentials(principal.staffId);
    const result = await this.refusing(principal, 'webauthn', () => verifyAssertion(this.deps.rp, response, challenge, credentials, true));
    await this.repository.useCredential(principal.staffId, result.credentialId, result.newCounter, this.deps.now());
    return this.satisfy(principal);
  }

  private async refusing<T>(principal: StaffConsolePrincipal, step: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      await this.record({ actor: principal.actor, action: 'staff.sign_in_refused', details: { step, reason: isSealpostError(err) ? String(err.logDetail?.['reason'] ?? err.code) : 'error' } });
      throw err;
    }
  }

  private async satisfy(principal: StaffConsolePrincipal): Promise<IssuedStaffSession> {
    const token = newStaffToken();
    const now = this.deps.now();
    if (!(await this.repository.satisfySession(principal.sessionId, tokenSha256(token), now))) throw unauthenticated('staff session ended during sign-in');
    await this.record({ actor: principal.actor, action: 'staff.signed_in', resource: principal.sessionId });
    return { sessionId: principal.sessionId, csrfToken: csrfTokenFor(token), setCookie: staffCookie(token, STAFF_ABSOLUTE_MS / 1000) };
  }

  async logout(principal: StaffConsolePrincipal): Promise<void> {
    await this.repository.revokeSession(principal.sessionId, this.deps.now());
  }
}
