import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertValidBlobKey } from '../../src/storage/blob-store.js';
import { LocalBlobStore, TEMP_DIR } from '../../src/storage/local-blob-store.js';
import { failingStream, patternBytes, patternStream, readAll, sha256Hex } from './support/streams.js';

let dir: string;
let root: string;
let store: LocalBlobStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-local-blobs-'));
  root = path.join(dir, 'blobs');
  store = await LocalBlobStore.open(root);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('LocalBlobStore', () => {
  it('creates its root readable by the service user only', async () => {
    expect((await stat(root)).mode & 0o777).toBe(0o700);
  });

  it('round-trips a small blob', async () => {
    expect(await store.put('ten_a/att/one', Readable.from([Buffer.from('hello '), Buffer.from('world')]))).toEqual({ size: 11 });
    expect((await readAll(await store.get('ten_a/att/one'))).toString()).toBe('hello world');
    expect(await store.exists('ten_a/att/one')).toBe(true);
  });

  it('round-trips an empty blob', async () => {
    expect(await store.put('empty', Readable.from([]))).toEqual({ size: 0 });
    expect((await readAll(await store.get('empty'))).length).toBe(0);
  });

  it('streams a 5 MB blob in and out', async () => {
    const size = 5 * 1024 * 1024;
    expect(await store.put('big/blob', patternStream(size))).toEqual({ size });
    const back = await readAll(await store.get('big/blob'));
    expect(back.length).toBe(size);
    expect(sha256Hex(back)).toBe(sha256Hex(patternBytes(0, size)));
  });

  it('replaces an existing blob', async () => {
    await store.put('k', Readable.from([Buffer.from('first')]));
    await store.put('k', Readable.from([Buffer.from('second')]));
    expect((await readAll(await store.get('k'))).toString()).toBe('second');
  });

  it('reports a missing blob as not found', async () => {
    await expect(store.get('nope')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
    await store.put('dir/file', Readable.from([Buffer.from('x')]));
    // A directory on the way to other blobs, and a path through a file, are not blobs either.
    await expect(store.get('dir')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
    await expect(store.get('dir/file/below')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
    expect(await store.exists('dir')).toBe(false);
    expect(await store.exists('dir/file/below')).toBe(false);
  });

  it('deletes, and deleting a missing blob is not an error', async () => {
    await store.put('a/b', Readable.from([Buffer.from('x')]));
    await store.delete('a/b');
    expect(await store.exists('a/b')).toBe(false);
    await expect(store.get('a/b')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
    await expect(store.delete('a/b')).resolves.toBeUndefined();
  });

  it('refuses keys that could escape the root or alias another key', async () => {
    const bad = ['', '/abs', '../up', 'a/../b', 'a/..', 'A', 'a b', 'a\\b', 'a//b', 'a/', 'a/./b', '.tmp/x', 'ü', 'a'.repeat(513)];
    for (const key of bad) {
      await expect(store.put(key, Readable.from([Buffer.from('x')])), key).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
      await expect(store.get(key), key).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
      await expect(store.exists(key), key).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
      await expect(store.delete(key), key).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_KEY_INVALID' });
    }
    expect(() => assertValidBlobKey('ten_01jdg3/attachments/att_01jdg3.bin')).not.toThrow();
    expect(() => assertValidBlobKey('a'.repeat(512))).not.toThrow();
  });

  it('keeps no blob and no temp file when the body fails mid-way', async () => {
    const failure = new Error('client went away');
    await expect(store.put('partial', failingStream(Buffer.alloc(100_000, 1), failure))).rejects.toBe(failure);
    expect(await store.exists('partial')).toBe(false);
    expect(await readdir(path.join(root, TEMP_DIR))).toEqual([]);
  });

  it('removes temp files of dead writers on open, and keeps those of live ones', async () => {
    const temp = path.join(root, TEMP_DIR);
    // pid 0 never names a writer (and is not probed); the live one is this test process.
    await writeFile(path.join(temp, '0-deadbeef.part'), 'stale');
    await writeFile(path.join(temp, 'garbage.part'), 'stale');
    await writeFile(path.join(temp, `${process.pid}-cafe.part`), 'in progress');
    await LocalBlobStore.open(root);
    expect(await readdir(temp)).toEqual([`${process.pid}-cafe.part`]);
  });
});
