import { EMPTY_TREE_ROOT, hashChildren, hashLeaf, MERKLE_HASH_BYTES } from '@sealpost/verify';
import { HashList } from './hash-list.js';

// RFC 9162 §2.1.1 hashes (leaf 0x00, node 0x01): @sealpost/verify's, the ones customers check proofs with.
export { hashChildren, hashLeaf };
export const HASH_BYTES = MERKLE_HASH_BYTES;

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT = EMPTY_TREE_ROOT;

/** The largest power of two strictly below n (n >= 2): RFC 9162's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2(n) when n is a power of two, else undefined. Arithmetic, not bit operators: sizes may pass 2^32. */
function exactLog2(n: number): number | undefined {
  let level = 0;
  for (let p = 1; p <= n; p *= 2, level += 1) if (p === n) return level;
  return undefined;
}

/**
 * An append-only RFC 9162 Merkle tree over leaf hashes, held in memory, answering tree heads,
 * inclusion proofs (§2.1.3.1) and consistency proofs (§2.1.4.1) for any size up to its own.
 *
 * Besides the leaves it keeps every complete, aligned subtree (level j holds the roots of the
 * blocks of 2^j leaves), built as leaves arrive. Every subtree the RFC's recursion visits is
 * such a block or splits into one block and a smaller remainder, so a tree head or a proof
 * costs O(log n) hashes instead of O(n), for about twice the memory of the leaves alone (64
 * bytes per leaf, in HashList's chunks).
 */
export class MerkleTree {
  private readonly levels: HashList[] = [new HashList()];

  get size(): number {
    return this.leaves.length;
  }

  private get leaves(): HashList {
    return this.levels[0] as HashList;
  }

  append(leafHash: Buffer): void {
    if (leafHash.length !== HASH_BYTES) throw new TypeError('a leaf hash is 32 bytes');
    this.leaves.push(leafHash);
    let level = 0;
    let index = this.leaves.length - 1;
    // A right child completes its parent block.
    while (index % 2 === 1) {
      const nodes = this.levels[level] as HashList;
      const parent = hashChildren(nodes.at(index - 1), nodes.at(index));
      level += 1;
      (this.levels[level] ??= new HashList()).push(parent);
      index = (index - 1) / 2;
    }
  }

  /** The leaf hash at `index`, as a read-only view. */
  leaf(index: number): Buffer {
    this.checkRange(index, 0, this.size - 1, 'index');
    return this.leaves.at(index);
  }

  /** MTH of the first `size` leaves. */
  root(size: number = this.size): Buffer {
    this.checkRange(size, 0, this.size, 'tree size');
    return this.subtree(0, size);
  }

  /** PATH(index, D[0:size]), leaf to root (RFC 9162 §2.1.3.1). */
  inclusionProof(index: number, size: number): Buffer[] {
    this.checkRange(size, 1, this.size, 'tree size');
    this.checkRange(index, 0, size - 1, 'index');
    const proof: Buffer[] = [];
    const path = (m: number, start: number, end: number): void => {
      const n = end - start;
      if (n === 1) return;
      const k = splitPoint(n);
      if (m < k) {
        path(m, start, start + k);
        proof.push(this.subtree(start + k, end));
      } else {
        path(m - k, start + k, end);
        proof.push(this.subtree(start, start + k));
      }
    };
    path(index, 0, size);
    return proof;
  }

  /**
   * PROOF(first, D[0:second]) (RFC 9162 §2.1.4.1). Empty when first is 0 or equals second:
   * every tree extends the empty tree, and a tree extends itself.
   */
  consistencyProof(first: number, second: number): Buffer[] {
    this.checkRange(second, 0, this.size, 'second tree size');
    this.checkRange(first, 0, second, 'first tree size');
    if (first === 0 || first === second) return [];
    const proof: Buffer[] = [];
    const subproof = (m: number, start: number, end: number, startFromOldRoot: boolean): void => {
      const n = end - start;
      if (m === n) {
        if (!startFromOldRoot) proof.push(this.subtree(start, end));
        return;
      }
      const k = splitPoint(n);
      if (m <= k) {
        subproof(m, start, start + k, startFromOldRoot);
        proof.push(this.subtree(start + k, end));
      } else {
        subproof(m - k, start + k, end, false);
        proof.push(this.subtree(start, start + k));
      }
    };
    subproof(first, 0, second, true);
    return proof;
  }

  /** MTH(D[start:end]). */
  private subtree(start: number, end: number): Buffer {
    const n = end - start;
    if (n === 0) return EMPTY_ROOT;
    const level = exactLog2(n);
    if (level !== undefined && start % n === 0) return (this.levels[level] as HashList).at(start / n);
    const k = splitPoint(n);
    return hashChildren(this.subtree(start, start + k), this.subtree(start + k, end));
  }

  private checkRange(value: number, min: number, max: number, what: string): void {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`${what} ${value} is outside ${min}..${max}`);
    }
  }
}
