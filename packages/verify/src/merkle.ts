import { createHash } from 'node:crypto';

/**
 * Size in bytes of every hash in Sealpost's audit log (SHA-256).
 *
 * @example
 * ```ts
 * import { MERKLE_HASH_BYTES } from '@sealpost/verify';
 * const ok = (h: Uint8Array): boolean => h.length === MERKLE_HASH_BYTES; // 32
 * ```
 */
export const MERKLE_HASH_BYTES = 32;

/**
 * Leaf hash of one log entry (RFC 9162 §2.1.1): SHA-256(0x00 ‖ entry). For a Sealpost audit
 * event the entry is the RFC 8785 canonical JSON of the event.
 *
 * @example
 * ```ts
 * import { canonicalizeToBuffer, hashLeaf } from '@sealpost/verify';
 * const leaf = hashLeaf(canonicalizeToBuffer(event)); // compare with the proof's leaf
 * ```
 */
export function hashLeaf(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(0x00)).update(entry).digest();
}

/**
 * Hash of an interior node (RFC 9162 §2.1.1): SHA-256(0x01 ‖ left ‖ right).
 *
 * @example
 * ```ts
 * import { hashChildren, hashLeaf } from '@sealpost/verify';
 * const root = hashChildren(hashLeaf(a), hashLeaf(b)); // the root of a two-entry log
 * ```
 */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(0x01)).update(left).update(right).digest();
}

/**
 * Root hash of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1).
 *
 * @example
 * ```ts
 * import { EMPTY_TREE_ROOT } from '@sealpost/verify';
 * console.log(EMPTY_TREE_ROOT.toString('hex')); // 'e3b0c442…7852b855'
 * ```
 */
export const EMPTY_TREE_ROOT: Buffer = createHash('sha256').digest();

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === MERKLE_HASH_BYTES;
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isProof(value: unknown): value is readonly Uint8Array[] {
  return Array.isArray(value) && value.every(isHash);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

// Tree sizes may pass 2^32, where JS bit operators (32-bit) would silently wrap: halve and
// test the low bit arithmetically instead.
const lsb = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

/**
 * Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash `leafHash` sits at
 * `index` in the tree of `treeSize` leaves whose root is `rootHash`.
 *
 * Returns `true` only for a valid proof. Anything else returns `false`, never throws: a wrong
 * hash, a proof that is too short or too long, `index >= treeSize`, a hash that is not 32
 * bytes, a size that is not a non-negative safe integer. Proof and hashes are raw bytes
 * (decode the API's base64 first).
 *
 * @example
 * ```ts
 * import { hashLeaf, canonicalizeToBuffer, verifyInclusion, verifyCheckpoint, parseVerifierKey } from '@sealpost/verify';
 * const head = verifyCheckpoint(checkpointNote, parseVerifierKey(logKey));
 * const proof = answer.proof.map((p: string) => Buffer.from(p, 'base64'));
 * if (!verifyInclusion(hashLeaf(canonicalizeToBuffer(event)), answer.index, head.treeSize, proof, head.rootHash)) {
 *   throw new Error('event is not in the log');
 * }
 * ```
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  rootHash: Uint8Array,
): boolean {
  if (!isHash(leafHash) || !isHash(rootHash) || !isProof(proof) || !isSize(index) || !isSize(treeSize)) return false;
  // 1. leaf_index must be below tree_size.
  if (index >= treeSize) return false;
  // 2.–3.
  let fn = index;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leafHash);
  // 4.
  for (const p of proof) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  return sn === 0 && sameHash(r, rootHash);
}

/**
 * Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `size2` leaves with root
 * `root2` extends, without changing any entry, the tree of `size1` leaves with root `root1`.
 *
 * The RFC defines the algorithm for `0 < size1 < size2`. Two edge cases are accepted too, each
 * only with an empty proof: `size1 === size2` when `root1` equals `root2`, and `size1 === 0`
 * when `root1` is {@link EMPTY_TREE_ROOT} (every tree extends the empty one).
 *
 * Returns `true` only for a valid proof, `false` for anything else (never throws), like
 * {@link verifyInclusion}.
 *
 * @example
 * ```ts
 * import { verifyCheckpoint, verifyConsistency, parseVerifierKey } from '@sealpost/verify';
 * const key = parseVerifierKey(logKey);
 * const older = verifyCheckpoint(savedNote, key);
 * const newer = verifyCheckpoint(latestNote, key);
 * const proof = answer.proof.map((p: string) => Buffer.from(p, 'base64'));
 * if (!verifyConsistency(older.treeSize, newer.treeSize, proof, older.rootHash, newer.rootHash)) {
 *   throw new Error('the log rewrote its history');
 * }
 * ```
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  if (!isHash(root1) || !isHash(root2) || !isProof(proof) || !isSize(size1) || !isSize(size2)) return false;
  if (size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && sameHash(root1, root2);
  if (size1 === 0) return proof.length === 0 && sameHash(root1, EMPTY_TREE_ROOT);
  // 1. An empty path cannot prove 0 < size1 < size2.
  if (proof.length === 0) return false;
  // 2. A complete first tree is its own subtree root; the proof leaves it out.
  let path: readonly Uint8Array[] = proof;
  if (isPowerOfTwo(size1)) path = [root1, ...proof];
  // 3.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // 4.
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  let fr: Buffer = Buffer.from(path[0] as Uint8Array);
  let sr: Buffer = fr;
  // 6.
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  return sameHash(fr, root1) && sameHash(sr, root2) && sn === 0;
}
