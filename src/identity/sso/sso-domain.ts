import { randomBytes } from 'node:crypto';
import dns from 'node:dns';
import { isIP } from 'node:net';
import { SealpostError } from '../../errors/sealpost-error.js';
import { withTimeout } from '../../util/timeout.js';

/** The DNS name whose TXT record proves control of `domain`. */
export function verificationRecordName(domain: string): string {
  return `_sealpost-verify.${domain}`;
}

/** A fresh TXT value: 128 random bits, so no other tenant can predict (and pre-publish) it. */
export function newVerificationToken(): string {
  return `sealpost-verify=${randomBytes(16).toString('base64url')}`;
}

/** TXT records at a name, each as its character strings; [] when the name has none. */
export type TxtResolver = (name: string) => Promise<string[][]>;

/** How long a verification waits for DNS before answering "not found (yet)". */
const TXT_TIMEOUT_MS = 5_000;
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'ESERVFAIL', 'NXDOMAIN']);

export const systemTxtResolver: TxtResolver = async (name) => {
  try {
    return await withTimeout(dns.promises.resolveTxt(name), TXT_TIMEOUT_MS, () => []);
  } catch (err) {
    if (NO_RECORD.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
};

/** True when some TXT record (its strings joined, RFC 7208 §3.3 style) is exactly the token. */
export async function hasVerificationRecord(resolve: TxtResolver, domain: string, token: string): Promise<boolean> {
  const records = await resolve(verificationRecordName(domain));
  return records.some((strings) => strings.join('') === token);
}

const MAX_DOMAIN_CHARS = 253; // RFC 1035 §2.3.4, without the trailing dot
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * The domain as stored and compared: trimmed, lower-case, no trailing dot; ASCII host names of
 * two labels or more only (IDNs in their `xn--` form), never an IP address.
 */
export function normaliseDomain(input: string): string {
  const domain = input.trim().toLowerCase().replace(/\.$/, '');
  const labels = domain.split('.');
  const valid =
    domain.length <= MAX_DOMAIN_CHARS && labels.length >= 2 && labels.every((label) => LABEL.test(label)) && !/^[0-9]+$/.test(labels.at(-1) ?? '') && isIP(domain) === 0;
  if (!valid) throw new SealpostError('SP_ERR_SSO_DOMAIN_INVALID', 'Not a valid e-mail domain (ASCII host name, IDNs in their xn-- form)');
  return domain;
}

/** The lower-cased domain of an e-mail address, or undefined when it has none that normalises. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  if (at <= 0) return undefined;
  try {
    return normaliseDomain(email.slice(at + 1));
  } catch {
    return undefined;
  }
}
