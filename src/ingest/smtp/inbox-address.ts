import { randomBytes } from 'node:crypto';
import { SealpostError } from '../../errors/sealpost-error.js';

/** RFC 4648 base32, lower-cased: case-insensitive like the local parts of real mailers, and no look-alike 0/1/8. */
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 16 characters of base32 are 80 random bits: an address cannot be guessed by enumerating RCPT TO. */
export const INBOX_TOKEN_LENGTH = 16;
const TOKEN_PATTERN = /^[a-z2-7]{16}$/;
/** RFC 5321 §4.5.3.1.1 allows 64 octets of local part; the tag gets what the token leaves. */
const MAX_TAG_LENGTH = 64 - INBOX_TOKEN_LENGTH - 1;
/** RFC 5322 atext without `+` (the tag separator), plus `.` as in a dot-atom. */
const TAG_PATTERN = /^[A-Za-z0-9!#$%&'*/=?^_`{|}~.-]+$/;
const DOMAIN_LABEL = /^[a-z0-9-]{1,63}$/;

export function newInboxToken(): string {
  const bytes = randomBytes((INBOX_TOKEN_LENGTH * 5) / 8);
  let bits = 0;
  let value = 0;
  let token = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      token += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return token;
}

/** The configured inbound domain in canonical form; refuses values that are not host names. */
export function normalizeInboundDomain(domain: string): string {
  const normalized = domain.trim().toLowerCase().replace(/\.$/, '');
  const labels = normalized.split('.');
  if (normalized.length > 253 || !labels.every((label) => DOMAIN_LABEL.test(label) && !label.startsWith('-') && !label.endsWith('-'))) {
    throw new SealpostError('SP_ERR_CONFIG_INVALID', `SEALPOST_INBOUND_DOMAIN must be a domain name, not "${domain.slice(0, 100)}"`);
  }
  return normalized;
}

export function inboxAddress(token: string, domain: string): string {
  return `${token}@${domain}`;
}

export interface ParsedRecipient {
  readonly token: string;
  /** What followed `+` in the local part, as the sender wrote it; null without one. */
  readonly tag: string | null;
}

/**
 * Splits `RCPT TO` into inbox token and plus-tag when the address belongs to `domain`;
 * undefined for anything that cannot be an inbox (the caller answers 550 5.1.1).
 */
export function parseRecipient(address: string, domain: string): ParsedRecipient | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0) return undefined;
  const recipientDomain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (recipientDomain !== domain) return undefined;
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  const token = (plus < 0 ? local : local.slice(0, plus)).toLowerCase();
  if (!TOKEN_PATTERN.test(token)) return undefined;
  if (plus < 0) return { token, tag: null };
  const tag = local.slice(plus + 1);
  if (tag === '') return { token, tag: null };
  if (tag.length > MAX_TAG_LENGTH || !TAG_PATTERN.test(tag)) return undefined;
  return { token, tag };
}

/** The local part of a named address (`security`, `security+tag`) of `domain`, lower-cased; undefined for any other address. */
export function parseAlias(address: string, domain: string): { name: string; tag: string | null } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || address.slice(at + 1).toLowerCase().replace(/\.$/, '') !== domain) return undefined;
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  const name = (plus < 0 ? local : local.slice(0, plus)).toLowerCase();
  const tag = plus < 0 ? '' : local.slice(plus + 1);
  if (tag.length > MAX_TAG_LENGTH || (tag !== '' && !TAG_PATTERN.test(tag))) return undefined;
  return { name, tag: tag === '' ? null : tag };
}
