import { ulid as encodeUlid } from 'ulid';
import { pooledRandomByte } from './random-pool.js';

// 0..255 / 256: ulid takes floor(x × 32), so every Crockford character stays equally likely.
// (The ulid package's own source asks WebCrypto for one byte per character.)
const randomFraction = (): number => pooledRandomByte() / 256;

/** A ULID (48-bit millisecond time, now unless given, + 80 random bits), as the ulid package encodes it. */
export function ulid(timeMs?: number): string {
  return encodeUlid(timeMs, randomFraction);
}
