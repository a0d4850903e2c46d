import type { Logger } from '../logging/logger.js';
import type { TrustConfig } from './trust-config.js';
import { SECURITY_KEY_PATH } from './security-key.routes.js';
import type { SecurityKeyService } from './security-key.service.js';

export const SECURITY_TXT_PATH = '/.well-known/security.txt';
/** Where the trust center page lives; security.txt's Policy unless the trust config names another. */
export const TRUST_PAGE_PATH = '/security';

const DAY_MS = 86_400_000;
/** How far ahead Expires is set: well under RFC 9116 §2.5.5's "less than a year". */
export const SECURITY_TXT_VALIDITY_MS = 90 * DAY_MS;
/** Re-signed with a fresh Expires once fewer than this remain, so a cached copy never nears expiry. */
export const SECURITY_TXT_REFRESH_MS = 60 * DAY_MS;
/** How often a running process notices a new or replaced security key. */
const KEY_CHECK_MS = 60_000;

export interface SecurityTxtDocument {
  readonly body: string;
  /** Clear-signed with the security key (false: no key exists yet). */
  readonly signed: boolean;
  readonly expires: Date;
  readonly fingerprint: string | null;
}

interface SecurityTxtInputs {
  readonly trust: TrustConfig | undefined;
  readonly publicUrl: string;
  readonly inboundDomain: string;
}

/** The last second of `reviewBy` (UTC). */
function endOfDay(date: string): number {
  return Date.parse(`${date}T23:59:59Z`);
}

/**
 * The fields, in RFC 9116 §2.5 order of importance. Expires is the earlier of 90 days ahead and the
 * trust config's review date: the file never vouches for contacts longer than people have.
 */
export function securityTxtFields(
  inputs: SecurityTxtInputs,
  options: { now: number; withEncryption: boolean },
): { fields: [string, string][]; expires: Date; cappedByReview: boolean } {
  const base = inputs.publicUrl.replace(/\/$/, '');
  const txt = inputs.trust?.securityTxt;
  const reviewBy = inputs.trust ? endOfDay(inputs.trust.reviewBy) : Number.POSITIVE_INFINITY;
  // Whole seconds, so the text is stable across the milliseconds of one render.
  const cappedByReview = reviewBy < options.now + SECURITY_TXT_VALIDITY_MS;
  const expires = new Date(Math.floor(Math.min(options.now + SECURITY_TXT_VALIDITY_MS, reviewBy) / 1000) * 1000);
  const fields: [string, string][] = [];
  for (const contact of txt?.contact ?? [`mailto:security@${inputs.inboundDomain}`]) fields.push(['Contact', contact]);
  fields.push(['Expires', expires.toISOString()]);
  if (options.withEncryption) fields.push(['Encryption', `${base}${SECURITY_KEY_PATH}`]);
  if (txt?.acknowledgments) fields.push(['Acknowledgments', txt.acknowledgments]);
  fields.push(['Preferred-Languages', (txt?.preferredLanguages ?? ['en']).join(', ')]);
  fields.push(['Canonical', `${base}${SECURITY_TXT_PATH}`]);
  fields.push(['Policy', txt?.policy ?? `${base}${TRUST_PAGE_PATH}`]);
  if (txt?.hiring) fields.push(['Hiring', txt.hiring]);
  return { fields, expires, cappedByReview };
}

export function renderSecurityTxt(fields: readonly (readonly [string, string])[], signed: boolean): string {
  const header = signed
    ? ['# Signed with this deployment\'s security key (the Encryption URL); verify: gpg --verify security.txt']
    : ['# Not signed: this deployment has no security key yet (sealpost security-key create)'];
  return [...header, ...fields.map(([name, value]) => `${name}: ${value}`)].join('\n') + '\n';
}

/**
 * `/.well-known/security.txt` (RFC 9116), made and clear-signed by the deployment itself: cached
 * between requests, re-signed with a later Expires when fewer than 60 of its 90 days remain, and
 * when the security key changes. Without a key it is served unsigned, with a warning in the log.
 */
export class SecurityTxtService {
  private cached: (SecurityTxtDocument & { keyId: string | null; checkedAt: number; cappedByReview: boolean }) | undefined;
  private pending: Promise<SecurityTxtDocument> | undefined;

  constructor(
    private readonly keys: SecurityKeyService,
    private readonly inputs: SecurityTxtInputs,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async document(): Promise<SecurityTxtDocument> {
    const now = this.now();
    const cached = this.cached;
    // Capped by the review date, a new signature would carry the same Expires: only a new key changes it.
    if (cached && (cached.cappedByReview || cached.expires.getTime() - now > SECURITY_TXT_REFRESH_MS)) {
      if (now - cached.checkedAt < KEY_CHECK_MS) return cached;
      const keyId = (await this.keys.current())?.id ?? null;
      if (keyId === cached.keyId) {
        cached.checkedAt = now;
        return cached;
      }
    }
    // One signature at a time, however many requests arrive while it is made.
    this.pending ??= this.generate(now).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async generate(now: number): Promise<SecurityTxtDocument> {
    const key = await this.keys.current();
    const { fields, expires, cappedByReview } = securityTxtFields(this.inputs, { now, withEncryption: key !== undefined });
    if (expires.getTime() <= now) this.logger.warn({ reviewBy: this.inputs.trust?.reviewBy }, 'security.txt is expired: the trust config\'s reviewBy date has passed; review it and raise the date');
    const text = renderSecurityTxt(fields, key !== undefined);
    let document: SecurityTxtDocument;
    const signed = key ? await this.keys.clearSign(text, new Date(now)) : undefined;
    if (signed) {
      document = { body: signed.signed, signed: true, expires, fingerprint: signed.key.fingerprint };
    } else {
      this.logger.warn('serving security.txt unsigned: no security key (sealpost security-key create)');
      document = { body: text, signed: false, expires, fingerprint: null };
    }
    this.cached = { ...document, keyId: signed?.key.id ?? null, checkedAt: now, cappedByReview };
    return document;
  }
}
