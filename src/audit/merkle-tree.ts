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

/** Thrown by a tree that keeps only block roots when a computation needs a block it was not given. */
export class BlockNotLoaded extends Error {
  constructor(readonly block: number) {
    super(`leaf block ${block} is not loaded`);
  }
}

export interface MerkleTreeOptions {
  /**
   * Keep only the nodes of level `blockLevel` and above (roots of aligned blocks of 2^blockLevel
   * leaves), besides the newest block's own nodes: memory per leaf falls by 2^blockLevel. A
   * computation inside an older block asks `block(b)` for a full tree of that block's leaves
   * (the caller reads them from storage and checks them with {@link MerkleTree.blockRoot}).
   */
  readonly blockLevel?: number;
  readonly block?: (index: number) => MerkleTree | undefined;
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
  /** levels[j], j >= base: the root of every complete aligned block of 2^j leaves, in order. */
  private readonly levels: HashList[] = [];
  /** Below `base`: the newest block's nodes only, indexed from that block's start. */
  private newest: Buffer[][] = [];
  private count = 0;
  private readonly base: number;
  private readonly blockSize: number;
  private readonly block: (index: number) => MerkleTree | undefined;

  constructor(options: MerkleTreeOptions = {}) {
    this.base = options.blockLevel ?? 0;
    if (!Number.isInteger(this.base) || this.base < 0 || this.base > 30) throw new RangeError('blockLevel is an integer in 0..30');
    this.blockSize = 2 ** this.base;
    this.block = options.block ?? (() => undefined);
  }

  get size(): number {
    return this.count;
  }

  append(leafHash: Buffer): void {
    if (leafHash.length !== HASH_BYTES) throw new TypeError('a leaf hash is 32 bytes');
    let index = this.count;
    if (this.base > 0 && index % this.blockSize === 0) this.newest = [];
    this.put(0, leafHash);
    this.count += 1;
    let level = 0;
    // A right child completes its parent block.
    while (index % 2 === 1) {
      const parent = hashChildren(this.node(level, index - 1), this.node(level, index));
      level += 1;
      index = (index - 1) / 2;
      this.put(level, parent);
    }
  }

  /** The leaf hash at `index`, as a read-only view. */
  leaf(index: number): Buffer {
    this.checkRange(index, 0, this.size - 1, 'index');
    return this.node(0, index);
  }

  /** The root of complete block `index` (a tree with `blockLevel`): what a block read from storage must hash to. */
  blockRoot(index: number): Buffer {
    this.checkRange(index, 0, Math.floor(this.count / this.blockSize) - 1, 'block');
    return this.node(this.base, index);
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
    if (level !== undefined && start % n === 0) return this.node(level, start / n);
    const k = splitPoint(n);
    return hashChildren(this.subtree(start, start + k), this.subtree(start + k, end));
  }

  /** Appends a copy of the next node of `level`. */
  private put(level: number, hash: Buffer): void {
    if (level >= this.base) (this.levels[level] ??= new HashList()).push(hash);
    else (this.newest[level] ??= []).push(Buffer.from(hash));
  }

  /** Node `index` of `level` (a complete aligned block of 2^level leaves). */
  private node(level: number, index: number): Buffer {
    if (level >= this.base) return (this.levels[level] as HashList).at(index);
    const perBlock = 2 ** (this.base - level);
    const block = Math.floor(index / perBlock);
    if (block === Math.floor((this.count - 1) / this.blockSize)) return (this.newest[level] as Buffer[])[index - block * perBlock] as Buffer;
    const loaded = this.block(block);
    if (loaded === undefined) throw new BlockNotLoaded(block);
    return loaded.node(level, index - block * perBlock);
  }

  private checkRange(value: number, min: number, max: number, what: string): void {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`${what} ${value} is outside ${min}..${max}`);
    }
  }
}
