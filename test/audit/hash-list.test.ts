import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashList } from '../../src/audit/hash-list.js';

const hashOf = (i: number): Buffer => createHash('sha256').update(String(i)).digest();

describe('HashList', () => {
  it('returns every hash pushed, across the growth of its first chunk and past later chunks', () => {
    const list = new HashList();
    for (let i = 0; i < 70_000; i += 1) list.push(hashOf(i));
    expect(list.length).toBe(70_000);
    for (const i of [0, 15, 16, 17, 31, 32, 32_767, 32_768, 32_769, 65_535, 65_536, 69_999]) expect(list.at(i), `hash ${i}`).toEqual(hashOf(i));
  });

  it('keeps a copy: neither the pushed buffer nor a view taken before the list grew changes what it holds', () => {
    const list = new HashList();
    const pushed = hashOf(0);
    list.push(pushed);
    const early = list.at(0);
    pushed.fill(0);
    for (let i = 1; i < 100; i += 1) list.push(hashOf(i));
    expect(list.at(0)).toEqual(hashOf(0));
    expect(early).toEqual(hashOf(0));
  });

  it('refuses anything but 32 bytes', () => {
    const list = new HashList();
    expect(() => list.push(Buffer.alloc(31))).toThrow(TypeError);
    expect(() => list.push(Buffer.alloc(33))).toThrow(TypeError);
    expect(list.length).toBe(0);
  });
});
