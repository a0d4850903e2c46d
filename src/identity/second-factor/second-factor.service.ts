import { createHash, randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { TenantPolicy } from '../policies/policy.repository.js';
import type { SessionPrincipal } from '../principal.js';
import type { SecondFactorRepository } from './second-factor.repository.js';
import { authenticationOptions, registrationOptions, verifyAssertion, verifyRegistration, webauthnFailed, type WebauthnRelyingParty } from './webauthn-ceremony.js';
import { lazyImport } from '../../util/lazy-import.js';

/** TOTP (otplib), loaded at the first enrolment or code checked. */
const loadOtp = lazyImport(() => import('otplib'));

export type { WebauthnRelyingParty } from './webauthn-ceremony.js';

/** Ten one-time recovery codes, each 80 random bits, shown once. */
export const RECOVERY_CODE_COUNT = 10;
/** RFC 6238 §5.2: accept the previous step too, for clock drift and typing time; never a future one beyond it. */
const TOTP_TOLERANCE_SECONDS: [number, number] = [30, 30];
const TOTP_ISSUER = 'Sealpost';

function recoveryCodeSha256(code: string): string {
  return createHash('sha256').update(code.replace(/[\s-]/g, '').toLowerCase(), 'utf8').digest('hex');
}

function newRecoveryCode(): string {
  // 10 bytes as 20 hex characters, grouped for reading: xxxxx-xxxxx-xxxxx-xxxxx.
  return randomBytes(10).toString('hex').replace(/(.{5})(?!$)/g, '$1-');
}

const failed = webauthnFailed;

export type SecondFactorAnswer = { readonly totp: string } | { readonly recovery_code: string } | { readonly webauthn: AuthenticationResponseJSON };

/**
 * The operator's second factors (issue 11): TOTP (otplib, RFC 6238, a code accepted once),
 * WebAuthn (@simplewebauthn/server: passkeys and hardware keys) and ten one-time recovery codes.
 * The tenant policy `webauthn_only` leaves only WebAuthn.
 */
export class SecondFactorService {
  constructor(
    private readonly repository: SecondFactorRepository,
    private readonly rp: WebauthnRelyingParty,
    private readonly now: () => number,
    private readonly audited: { db: Kysely<Database>; audit: AuditRecorder },
  ) {}

  /** Whether the operator holds a factor the policy accepts. */
  async hasFactor(operatorId: string, policy: TenantPolicy): Promise<boolean> {
    if ((await this.repository.credentials(operatorId)).length > 0) return true;
    return !policy.webauthnOnly && (await this.repository.hasConfirmedTotp(operatorId));
  }

  async status(operatorId: string): Promise<{ totp: boolean; webauthn: number; recovery_codes_left: number }> {
    return {
      totp: await this.repository.hasConfirmedTotp(operatorId),
      webauthn: (await this.repository.credentials(operatorId)).length,
      recovery_codes_left: await this.repository.unusedRecoveryCodes(operatorId),
    };
  }

  private async record(tx: Kysely<Database>, principal: SessionPrincipal, action: 'second_factor.enrolled' | 'recovery_codes.generated', details: Record<string, string | number>): Promise<void> {
    await this.audited.audit(tx, { tenant: principal.tenantId, actor: principal.actor, action, resource: principal.operatorId, details });
  }

  /** Starts TOTP enrolment: a new secret, returned once for the authenticator app, stored sealed. */
  async startTotp(principal: SessionPrincipal, email: string, policy: TenantPolicy): Promise<{ secret: string; otpauthUri: string }> {
    await this.assertMayEnrol(principal);
    if (policy.webauthnOnly) throw new SealpostError('SP_ERR_AUTH_SECOND_FACTOR_NOT_ALLOWED', 'This tenant accepts only WebAuthn as a second factor');
    const { generateSecret, generateURI } = await loadOtp();
    const secret = generateSecret();
    if (!(await this.repository.putPendingTotp(principal.operatorId, secret, this.now()))) {
      throw new SealpostError('SP_ERR_AUTH_TOTP_ENROLLED', 'TOTP is already enrolled for this account');
    }
    return { secret, otpauthUri: generateURI({ issuer: TOTP_ISSUER, label: email, secret }) };
  }

  /** The time step of a valid, never-used code, or a refusal. */
  private async totpStep(operatorId: string, code: string, requireConfirmed: boolean): Promise<number> {
    const totp = await this.repository.totp(operatorId);
    if (!totp || totp.confirmed !== requireConfirmed) throw failed(requireConfirmed ? 'no TOTP enrolled' : 'no pending TOTP enrolment');
    if (!/^\d{6}$/.test(code)) throw failed('malformed code');
    const { verify } = await loadOtp();
    const result = await verify({
      secret: totp.secret,
      token: code,
      epoch: Math.floor(this.now() / 1000),
      epochTolerance: TOTP_TOLERANCE_SECONDS,
      ...(totp.lastUsedStep === null ? {} : { afterTimeStep: totp.lastUsedStep }),
    }).catch(() => ({ valid: false as const }));
    if (!result.valid || !('timeStep' in result)) throw failed('wrong or reused code');
    return result.timeStep;
  }

  /**
   * Confirms TOTP enrolment with a first code; issues the recovery codes if the operator has none.
   * Returns the codes to show once (empty if they existed already).
   */
  async confirmTotp(principal: SessionPrincipal, code: string): Promise<string[]> {
    await this.assertMayEnrol(principal);
    const step = await this.totpStep(principal.operatorId, code, false);
    return this.enrolled(principal, 'totp', (tx) => this.repository.useTotpStep(principal.operatorId, step, this.now(), tx));
  }

  private async enrolled(principal: SessionPrincipal, kind: 'totp' | 'webauthn', write: (tx: Kysely<Database>) => Promise<unknown>): Promise<string[]> {
    const fresh = (await this.repository.hasRecoveryCodes(principal.operatorId)) ? [] : Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.audited.db.transaction().execute(async (tx) => {
      if ((await write(tx)) === false) throw failed('code used concurrently');
      await this.record(tx, principal, 'second_factor.enrolled', { kind });
      if (fresh.length > 0) {
        await this.repository.replaceRecoveryCodes(principal.operatorId, fresh.map(recoveryCodeSha256), this.now(), tx);
        await this.record(tx, principal, 'recovery_codes.generated', { count: fresh.length });
      }
    });
    return fresh;
  }

  /** New recovery codes replacing the old ones; shown once. */
  async regenerateRecoveryCodes(principal: SessionPrincipal): Promise<string[]> {
    const fresh = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.audited.db.transaction().execute(async (tx) => {
      await this.repository.replaceRecoveryCodes(principal.operatorId, fresh.map(recoveryCodeSha256), this.now(), tx);
      await this.record(tx, principal, 'recovery_codes.generated', { count: fresh.length });
    });
    return fresh;
  }

  async registrationOptions(principal: SessionPrincipal, email: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    await this.assertMayEnrol(principal);
    const existing = await this.repository.credentials(principal.operatorId);
    return registrationOptions(this.rp, { id: principal.operatorId, name: email }, existing, 'preferred');
  }

  /** Verifies a registration against the session's pending challenge; returns recovery codes to show (if new). */
  async register(principal: SessionPrincipal, response: RegistrationResponseJSON, challenge: string | null): Promise<string[]> {
    await this.assertMayEnrol(principal);
    const credential = await verifyRegistration(this.rp, response, challenge, false);
    return this.enrolled(principal, 'webauthn', (tx) =>
      this.repository.addCredential(
        {
          id: credential.id,
          operatorId: principal.operatorId,
          publicKey: credential.publicKey,
          counter: credential.counter,
          transports: credential.transports,
          createdAt: this.now(),
          lastUsedAt: null,
        },
        tx,
      ),
    );
  }

  async authenticationOptions(operatorId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return authenticationOptions(this.rp, await this.repository.credentials(operatorId), 'preferred');
  }

  /**
   * Before its second factor, a session may enrol only if the operator has no factor at all, or
   * has proved one the policy no longer accepts: otherwise a stolen password would let its holder
   * enrol their own authenticator and pass as the second factor.
   */
  async assertMayEnrol(principal: SessionPrincipal): Promise<void> {
    if (principal.secondFactorSatisfied || principal.enrolmentOnly) return;
    const any = (await this.repository.credentials(principal.operatorId)).length > 0 || (await this.repository.hasConfirmedTotp(principal.operatorId));
    if (any) throw new SealpostError('SP_ERR_AUTH_SECOND_FACTOR_REQUIRED', 'Prove your existing second factor before enrolling another');
  }

  /** Checks a second-factor answer for the operator; throws if not accepted. Returns which kind was used (the caller applies the policy). */
  async verify(operatorId: string, answer: SecondFactorAnswer, challenge: string | null): Promise<'totp' | 'recovery_code' | 'webauthn'> {
    if ('webauthn' in answer) {
      const result = await verifyAssertion(this.rp, answer.webauthn, challenge, await this.repository.credentials(operatorId), false);
      await this.repository.useCredential(operatorId, result.credentialId, result.newCounter, this.now());
      return 'webauthn';
    }
    if ('totp' in answer) {
      const step = await this.totpStep(operatorId, answer.totp, true);
      if (!(await this.repository.useTotpStep(operatorId, step, this.now()))) throw failed('code used concurrently');
      return 'totp';
    }
    if (!(await this.repository.useRecoveryCode(operatorId, recoveryCodeSha256(answer.recovery_code), this.now()))) throw failed('unknown or used recovery code');
    return 'recovery_code';
  }
}
