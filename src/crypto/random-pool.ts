import { randomFillSync } from 'node:crypto';

// Small random values (GCM nonces, id characters) are needed several times per request, and one
// CSPRNG call per value cost ~5 % of an ingest CPU profile. They are taken from a page filled by
// the CSPRNG instead, as Node does itself for randomUUID(). Every byte is handed out once.
// Only for values that are not secret: a key must come from randomBytes/generateKey directly.
const pool = Buffer.alloc(8192);
let offset = pool.length;

/** Reserves `length` unused bytes of the pool, refilling it first if too few are left; returns where they start. */
function take(length: number): number {
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += length;
  return start;
}

/** `length` (≤ 256) fresh CSPRNG bytes, copied out of the pool. */
export function pooledRandomBytes(length: number): Buffer {
  if (length > 256) throw new RangeError('pooledRandomBytes is for small values');
  const start = take(length);
  return Buffer.from(pool.subarray(start, start + length));
}

/** One fresh CSPRNG byte. */
export function pooledRandomByte(): number {
  return pool[take(1)]!;
}
