import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `sp_live_<prefix>_<secret>`: the 12-character prefix is public (it names
 * the key in lists and logs, and finds its row), the secret is 256 random bits. Only SHA-256 of
 * the secret is stored; a slow password hash adds nothing for a 256-bit random secret.
 */
const PREFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const PREFIX_LENGTH = 12;
const SECRET_BYTES = 32;
const KEY_PATTERN = /^sp_live_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  readonly token: string;
  readonly prefix: string;
  readonly secretHash: Buffer;
}

function randomPrefix(): string {
  const bytes = randomBytes(PREFIX_LENGTH);
  let out = '';
  for (const b of bytes) out += PREFIX_ALPHABET[b & 31];
  return out;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function generateApiKey(): NewApiKey {
  const prefix = randomPrefix();
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { token: `sp_live_${prefix}_${secret}`, prefix, secretHash: hashSecret(secret) };
}

/** Splits a presented token; undefined when it cannot be one of ours. */
export function parseApiKey(token: string): { prefix: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(token);
  return match ? { prefix: match[1]!, secret: match[2]! } : undefined;
}

export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const presented = hashSecret(secret);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}
