import { MERKLE_HASH_BYTES as HASH_BYTES } from '@sealpost/verify';

/** Hashes per chunk once a list has grown: 1 MiB each. */
const CHUNK_HASHES = 32_768;
/** Capacity of a new list's first chunk, doubled as it fills (a small tree stays small). */
const FIRST_CAPACITY = 16;

/**
 * An append-only list of 32-byte hashes stored back to back in chunks of 1 MiB. A Merkle tree of
 * the audit log holds two hashes per event for the life of the process; as one Buffer each they
 * cost ~620 bytes of memory per event and made millions of objects for every full garbage
 * collection to trace (285 ms per collection at a million events); here they cost their 32
 * bytes, in a handful of objects.
 */
export class HashList {
  private readonly chunks: Buffer[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Appends a copy of `hash` (the caller's buffer is not kept). */
  push(hash: Buffer): void {
    if (hash.length !== HASH_BYTES) throw new TypeError('a hash is 32 bytes');
    const chunkIndex = Math.floor(this.count / CHUNK_HASHES);
    const offset = (this.count - chunkIndex * CHUNK_HASHES) * HASH_BYTES;
    let chunk = this.chunks[chunkIndex];
    if (chunk === undefined) {
      chunk = Buffer.alloc((chunkIndex === 0 ? FIRST_CAPACITY : CHUNK_HASHES) * HASH_BYTES);
      this.chunks.push(chunk);
    } else if (offset === chunk.length) {
      // Only the first chunk grows; views handed out earlier keep the old copy's unchanged bytes.
      const grown = Buffer.alloc(Math.min(chunk.length * 2, CHUNK_HASHES * HASH_BYTES));
      chunk.copy(grown);
      this.chunks[chunkIndex] = grown;
      chunk = grown;
    }
    hash.copy(chunk, offset);
    this.count += 1;
  }

  /** The hash at `index` (< length), as a read-only view: never write to it. */
  at(index: number): Buffer {
    const chunkIndex = Math.floor(index / CHUNK_HASHES);
    const offset = (index - chunkIndex * CHUNK_HASHES) * HASH_BYTES;
    return (this.chunks[chunkIndex] as Buffer).subarray(offset, offset + HASH_BYTES);
  }
}
