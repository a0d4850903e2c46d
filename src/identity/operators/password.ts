import * as argon2 from 'argon2';
import { SealpostError } from '../../errors/sealpost-error.js';
import commonPasswords from './common-passwords.json' with { type: 'json' };

/** NIST SP 800-63B §5.1.1.2: at least 8, we ask 12; no composition rules; a blocklist instead. */
export const MIN_PASSWORD_CHARS = 12;
/** Long enough for any passphrase, short enough that hashing it cannot be used to burn CPU. */
export const MAX_PASSWORD_CHARS = 256;

const COMMON = new Set<string>(commonPasswords as string[]);

/**
 * argon2id with the OWASP-recommended floor (19 MiB, 2 passes, 1 lane): ~40 ms per hash here,
 * enough to make an offline guess expensive without letting sign-in exhaust the API.
 */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Why a password was refused; the message is shown to the person choosing it. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_CHARS) return `Passwords need at least ${MIN_PASSWORD_CHARS} characters`;
  if (length > MAX_PASSWORD_CHARS) return `Passwords may have at most ${MAX_PASSWORD_CHARS} characters`;
  if (COMMON.has(password.toLowerCase())) return 'This password is among the most common ones; choose another';
  return undefined;
}

export function assertAcceptablePassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new SealpostError('SP_ERR_AUTH_PASSWORD_REJECTED', problem);
}

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password.normalize('NFKC'), ARGON2_OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies `password` against `hash`; with no hash (unknown account, no password set) it still
 * runs one argon2 verification against a throw-away hash, so the answer takes as long as for a
 * known account and timing does not tell which e-mails exist.
 */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  const candidate = password.normalize('NFKC');
  if (!hash) {
    dummyHash ??= hashPassword('sealpost-dummy-password-for-timing');
    await argon2.verify(await dummyHash, candidate).catch(() => false);
    return false;
  }
  try {
    return await argon2.verify(hash, candidate);
  } catch {
    return false;
  }
}
