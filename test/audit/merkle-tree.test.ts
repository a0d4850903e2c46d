import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlockNotLoaded, EMPTY_ROOT, MerkleTree, hashLeaf } from '../../src/audit/merkle-tree.js';
import { EMPTY_TREE_ROOT, hashLeaf as verifierHashLeaf, verifyConsistency, verifyInclusion } from '../../packages/verify/src/merkle.js';

const hex = (b: Buffer): string => b.toString('hex');
const unhex = (h: string): Buffer => Buffer.from(h, 'hex');

// The Certificate Transparency reference tree (RFC 6962 test data, also used by RFC 9162
// implementations): eight leaves and the tree head of every prefix.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];
const CT_CONSISTENCY = [
  { first: 2, second: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { first: 6, second: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];

// An independent reference: RFC 9162 §2.1 written as literally as possible, recursing over
// arrays of leaf hashes with no caching.
const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const split = (n: number): number => 2 ** Math.floor(Math.log2(n - 1));
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0] as Buffer;
  const k = split(d.length);
  return sha(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

function treeOf(leaves: Buffer[]): MerkleTree {
  const tree = new MerkleTree();
  for (const leaf of leaves) tree.append(leaf);
  return tree;
}

const flip = (b: Buffer, at = 0): Buffer => {
  const copy = Buffer.from(b);
  copy[at % copy.length] = (copy[at % copy.length] as number) ^ 0x01;
  return copy;
};

// The exhaustive checks below are CPU-bound (seconds each, many more on a busy machine).
describe('RFC 9162 Merkle tree', { timeout: 120_000 }, () => {
  const ctLeafHashes = CT_LEAVES.map(hashLeaf);
  const ct = treeOf(ctLeafHashes);

  it('hashes leaves with the 0x00 prefix, like the verifier', () => {
    expect(hex(hashLeaf(Buffer.alloc(0)))).toBe(CT_ROOTS[1]);
    expect(verifierHashLeaf(Buffer.from('x'))).toEqual(hashLeaf(Buffer.from('x')));
    expect(EMPTY_ROOT).toEqual(EMPTY_TREE_ROOT);
  });

  it('matches the Certificate Transparency tree heads for sizes 0..8', () => {
    for (let n = 0; n <= 8; n += 1) expect(hex(ct.root(n)), `size ${n}`).toBe(CT_ROOTS[n]);
  });

  it('produces the Certificate Transparency inclusion and consistency proofs, which verify', () => {
    for (const v of CT_INCLUSION) {
      expect(ct.inclusionProof(v.index, v.size).map(hex)).toEqual(v.proof);
      expect(verifyInclusion(ctLeafHashes[v.index] as Buffer, v.index, v.size, v.proof.map(unhex), unhex(CT_ROOTS[v.size] as string))).toBe(true);
    }
    for (const v of CT_CONSISTENCY) {
      expect(ct.consistencyProof(v.first, v.second).map(hex)).toEqual(v.proof);
      expect(verifyConsistency(v.first, v.second, v.proof.map(unhex), unhex(CT_ROOTS[v.first] as string), unhex(CT_ROOTS[v.second] as string))).toBe(true);
    }
  });

  const N = 200;
  const leaves = Array.from({ length: N }, (_, i) => hashLeaf(Buffer.from(`event ${i}`)));
  const tree = treeOf(leaves);
  const roots = Array.from({ length: N + 1 }, (_, n) => tree.root(n));

  it('agrees with a literal recursive reference on roots and proofs (sizes up to 70)', () => {
    for (let n = 0; n <= N; n += 1) expect(roots[n], `root ${n}`).toEqual(mth(leaves.slice(0, n)));
    for (let n = 1; n <= 70; n += 1) {
      for (let m = 0; m < n; m += 1) expect(tree.inclusionProof(m, n), `path ${m}/${n}`).toEqual(path(m, leaves.slice(0, n)));
      for (let m = 1; m < n; m += 1) expect(tree.consistencyProof(m, n), `proof ${m}->${n}`).toEqual(subproof(m, leaves.slice(0, n), true));
    }
  });

  it('keeps roots and proofs right past the 32,768 hashes of its storage chunks (70,000 leaves)', () => {
    const many = Array.from({ length: 70_000 }, (_, i) => hashLeaf(Buffer.from(String(i))));
    const big = treeOf(many);
    for (const n of [32_767, 32_768, 32_769, 65_536, 70_000]) expect(big.root(n), `root ${n}`).toEqual(mth(many.slice(0, n)));
    for (const m of [32_767, 32_768, 65_535, 65_536, 69_999]) {
      expect(big.leaf(m)).toEqual(many[m]);
      expect(big.inclusionProof(m, 70_000), `path ${m}`).toEqual(path(m, many));
    }
    expect(big.consistencyProof(32_769, 70_000)).toEqual(subproof(32_769, many, true));
  });

  it(`verifies the inclusion proof of every index in every tree size up to ${N}, and refuses forged ones`, () => {
    let checked = 0;
    for (let n = 1; n <= N; n += 1) {
      const root = roots[n] as Buffer;
      for (let i = 0; i < n; i += 1) {
        const leaf = leaves[i] as Buffer;
        const proof = tree.inclusionProof(i, n);
        expect(verifyInclusion(leaf, i, n, proof, root), `${i}/${n}`).toBe(true);
        // Forgeries: a flipped byte in leaf, root or any proof hash; another index; another size.
        expect(verifyInclusion(flip(leaf), i, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, i, n, proof, flip(root, 31))).toBe(false);
        if (proof.length > 0) {
          const j = (i * 7 + n) % proof.length;
          expect(verifyInclusion(leaf, i, n, proof.map((p, k) => (k === j ? flip(p, i) : p)), root)).toBe(false);
          expect(verifyInclusion(leaf, i, n, proof.slice(0, -1), root)).toBe(false);
        }
        expect(verifyInclusion(leaf, i, n, [...proof, leaf], root)).toBe(false);
        if (n > 1) expect(verifyInclusion(leaf, (i + 1) % n, n, proof, root), `wrong index ${(i + 1) % n}/${n}`).toBe(false);
        // A wrong size, with that size's true root (a size is only ever checked against its own root).
        if (n < N) expect(verifyInclusion(leaf, i, n + 1, proof, roots[n + 1] as Buffer)).toBe(false);
        if (i < n - 1) expect(verifyInclusion(leaf, i, n - 1, proof, roots[n - 1] as Buffer)).toBe(false);
        checked += 1;
      }
    }
    expect(checked).toBe((N * (N + 1)) / 2);
  });

  it(`verifies the consistency proof of every pair of sizes up to ${N}, and refuses forged ones`, () => {
    for (let n = 0; n <= N; n += 1) {
      for (let m = 0; m <= n; m += 1) {
        const proof = tree.consistencyProof(m, n);
        const [r1, r2] = [roots[m] as Buffer, roots[n] as Buffer];
        expect(verifyConsistency(m, n, proof, r1, r2), `${m}->${n}`).toBe(true);
        expect(verifyConsistency(m, n, proof, flip(r1, 5), r2)).toBe(false);
        // Every tree extends the empty one, whatever its root: only m > 0 pins the second root.
        if (m > 0) expect(verifyConsistency(m, n, proof, r1, flip(r2, 9))).toBe(false);
        if (proof.length > 0) {
          const j = (m + n) % proof.length;
          expect(verifyConsistency(m, n, proof.map((p, k) => (k === j ? flip(p, m) : p)), r1, r2)).toBe(false);
          expect(verifyConsistency(m, n, proof.slice(1), r1, r2)).toBe(false);
        }
        expect(verifyConsistency(m, n, [...proof, r1], r1, r2)).toBe(false);
        if (m > 0 && m < n) {
          expect(verifyConsistency(m + 1, n, proof, r1, r2)).toBe(false);
          if (n < N) expect(verifyConsistency(m, n + 1, proof, r1, roots[n + 1] as Buffer)).toBe(false);
          expect(verifyConsistency(m + 1, n, proof, roots[m + 1] as Buffer, r2)).toBe(false);
          expect(verifyConsistency(n, m, proof, r2, r1)).toBe(false);
        }
      }
    }
  });

  it('refuses malformed input by returning false, never throwing', () => {
    const proof = ct.inclusionProof(5, 8);
    const root8 = ct.root(8);
    expect(verifyInclusion(Buffer.alloc(31), 5, 8, proof, root8)).toBe(false);
    expect(verifyInclusion(ctLeafHashes[5] as Buffer, 8, 8, proof, root8)).toBe(false);
    expect(verifyInclusion(ctLeafHashes[5] as Buffer, -1, 8, proof, root8)).toBe(false);
    expect(verifyInclusion(ctLeafHashes[5] as Buffer, 5.5, 8, proof, root8)).toBe(false);
    expect(verifyInclusion(ctLeafHashes[5] as Buffer, 5, 8, 'nope' as unknown as Buffer[], root8)).toBe(false);
    expect(verifyConsistency(6, 8, [], ct.root(6), root8)).toBe(false);
    expect(verifyConsistency(0, 8, [], ct.root(1), root8)).toBe(false);
    expect(verifyConsistency(0, 8, [], EMPTY_TREE_ROOT, root8)).toBe(true);
  });

  it('handles sizes beyond 2^32 arithmetically (no 32-bit wrap-around)', () => {
    // A perfect left subtree of 2^32 leaves and one more leaf: the proof of the last leaf is
    // just the left subtree root. Bit operators would see index 2^32 as 0 and fail.
    const leftRoot = sha(Buffer.from('left'));
    const leaf = hashLeaf(Buffer.from('last'));
    const root = sha(Buffer.from([1]), leftRoot, leaf);
    expect(verifyInclusion(leaf, 2 ** 32, 2 ** 32 + 1, [leftRoot], root)).toBe(true);
    expect(verifyInclusion(leaf, 0, 2 ** 32 + 1, [leftRoot], root)).toBe(false);
  });

  it('refuses proofs outside the tree', () => {
    expect(() => tree.inclusionProof(N, N)).toThrow(RangeError);
    expect(() => tree.inclusionProof(0, N + 1)).toThrow(RangeError);
    expect(() => tree.consistencyProof(5, 3)).toThrow(RangeError);
  });
});

// The same tree keeping only the roots of blocks of 4 leaves (the audit tree keeps blocks of
// 1,024): every size, proof and leaf must come out as from the full tree, reading older blocks
// only through `block`.
describe('RFC 9162 Merkle tree keeping only block roots', { timeout: 120_000 }, () => {
  const N = 70;
  const LEVEL = 2;
  const B = 2 ** LEVEL;
  const leaves = Array.from({ length: N }, (_, i) => hashLeaf(Buffer.from(`event ${i}`)));
  const asked = new Set<number>();
  const blockOf = (b: number): MerkleTree => {
    asked.add(b);
    return treeOf(leaves.slice(b * B, (b + 1) * B));
  };

  it('agrees with the literal reference on every root, leaf, inclusion and consistency proof at every size it passes through', () => {
    // The reference answers depend on the size asked, not on how far the tree has grown: computed
    // once, then compared as one hex list per tree size (a million single expects took ~50 s).
    const hex = (hashes: Buffer[]): string => hashes.map((h) => h.toString('hex')).join(' ');
    const roots = Array.from({ length: N + 1 }, (_, size) => mth(leaves.slice(0, size)).toString('hex'));
    const paths = Array.from({ length: N + 1 }, (_, size) => Array.from({ length: size }, (_, m) => hex(path(m, leaves.slice(0, size)))));
    const proofs = Array.from({ length: N + 1 }, (_, size) => Array.from({ length: size }, (_, m) => (m === 0 ? '' : hex(subproof(m, leaves.slice(0, size), true)))));
    const tree = new MerkleTree({ blockLevel: LEVEL, block: blockOf });
    for (let n = 1; n <= N; n += 1) {
      tree.append(leaves[n - 1] as Buffer);
      const sizes = Array.from({ length: n + 1 }, (_, size) => size);
      expect(sizes.map((size) => tree.root(size).toString('hex')), `roots of ${n}`).toEqual(roots.slice(0, n + 1));
      expect(sizes.map((size) => Array.from({ length: size }, (_, m) => hex(tree.inclusionProof(m, size)))), `paths of ${n}`).toEqual(paths.slice(0, n + 1));
      expect(sizes.map((size) => Array.from({ length: size }, (_, m) => (m === 0 ? '' : hex(tree.consistencyProof(m, size))))), `proofs of ${n}`).toEqual(proofs.slice(0, n + 1));
      expect(Array.from({ length: n }, (_, i) => tree.leaf(i)), `leaves of ${n}`).toEqual(leaves.slice(0, n));
    }
    // Older blocks were read through `block`, never the newest one.
    expect([...asked].sort((a, b) => a - b)).toEqual(Array.from({ length: Math.floor((N - 1) / B) }, (_, b) => b));
  });

  it('names the block it needs when it was not given, and checks blocks against their roots', () => {
    const tree = new MerkleTree({ blockLevel: LEVEL });
    for (const leaf of leaves.slice(0, 10)) tree.append(leaf);
    // Block 2 (leaves 8, 9) is the newest, held in memory; blocks 0 and 1 are not.
    expect(tree.root(10)).toEqual(mth(leaves.slice(0, 10)));
    expect(tree.root(8)).toEqual(mth(leaves.slice(0, 8)));
    expect(tree.inclusionProof(9, 10)).toEqual(path(9, leaves.slice(0, 10)));
    const missing = (run: () => unknown): number => {
      try {
        run();
      } catch (err) {
        if (err instanceof BlockNotLoaded) return err.block;
        throw err;
      }
      return -1;
    };
    expect(missing(() => tree.inclusionProof(5, 10))).toBe(1);
    expect(missing(() => tree.root(6))).toBe(1);
    expect(missing(() => tree.leaf(2))).toBe(0);
    expect(tree.blockRoot(0)).toEqual(mth(leaves.slice(0, 4)));
    expect(tree.blockRoot(1)).toEqual(mth(leaves.slice(4, 8)));
    expect(() => tree.blockRoot(2)).toThrow(RangeError);
  });
});
