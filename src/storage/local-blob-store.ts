import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { assertValidBlobKey, blobNotFound, storageFailed, type BlobStore } from './blob-store.js';

/** Unfinished writes live here, inside the root, so the final rename never crosses filesystems. */
export const TEMP_DIR = '.tmp';
const TEMP_SUFFIX = '.part';

/**
 * Blobs as files under a root directory (`<data dir>/blobs`), readable only by the service user.
 *
 * A put writes a temp file, fsyncs it, renames it over the key's path and fsyncs the directory
 * (the rename-into-place pattern; rename(2) is atomic within one filesystem), so after a crash
 * a key holds either its previous blob or the complete new one, never a prefix.
 */
export class LocalBlobStore implements BlobStore {
  private constructor(
    readonly root: string,
    private readonly tempDir: string,
  ) {}

  /** Creates the root (mode 0700) if needed and removes temp files that crashed writers left. */
  static async open(root: string): Promise<LocalBlobStore> {
    const absolute = path.resolve(root);
    const tempDir = path.join(absolute, TEMP_DIR);
    try {
      await mkdir(absolute, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing directory's mode alone; blobs are for the service user only.
      await chmod(absolute, 0o700);
      await mkdir(tempDir, { recursive: true, mode: 0o700 });
      await removeStaleTempFiles(tempDir);
    } catch (error) {
      throw storageFailed('open', absolute, error);
    }
    return new LocalBlobStore(absolute, tempDir);
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    try {
      assertValidBlobKey(key);
    } catch (error) {
      body.destroy(); // put always consumes or destroys its body, so no producer is left blocked
      throw error;
    }
    const target = this.pathOf(key);
    // The writer's pid in the name lets open() tell a crashed writer's file from a live one's.
    const temp = path.join(this.tempDir, `${process.pid}-${randomBytes(12).toString('hex')}${TEMP_SUFFIX}`);
    // Only filesystem failures become SP_ERR_STORAGE_UNAVAILABLE; the body's own error is rethrown as is.
    const io = async <T>(step: () => Promise<T>): Promise<T> => {
      try {
        return await step();
      } catch (error) {
        throw storageFailed('put', key, error);
      }
    };
    let handle: FileHandle | undefined;
    let size = 0;
    try {
      handle = await io(() => open(temp, 'wx', 0o600));
      const file = handle;
      for await (const chunk of body) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        await io(() => writeAll(file, bytes));
        size += bytes.length;
      }
      await io(() => file.sync());
      handle = undefined;
      await io(() => file.close());
      const firstCreated = await io(() => mkdir(path.dirname(target), { recursive: true, mode: 0o700 }));
      await io(() => rename(temp, target));
      // The rename is durable once the directory holding the new entry is; so is every
      // directory mkdir just created, in its own parent.
      const lastToSync = firstCreated === undefined ? path.dirname(target) : path.dirname(firstCreated);
      for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
        await io(() => fsyncDirectory(dir));
        if (dir === lastToSync || dir === this.root) break;
      }
      return { size };
    } catch (error) {
      body.destroy();
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    assertValidBlobKey(key);
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isMissing(error)) throw blobNotFound(key);
      throw storageFailed('get', key, error);
    }
    try {
      // A directory opens fine on Linux; only a regular file is a blob.
      if (!(await handle.stat()).isFile()) throw blobNotFound(key);
    } catch (error) {
      await handle.close();
      throw storageFailed('get', key, error);
    }
    return handle.createReadStream();
  }

  async delete(key: string): Promise<void> {
    assertValidBlobKey(key);
    const target = this.pathOf(key);
    try {
      await unlink(target);
    } catch (error) {
      if (isMissing(error) || hasCode(error, 'EISDIR') || hasCode(error, 'EPERM')) return;
      throw storageFailed('delete', key, error);
    }
    // Retention deletes must survive a crash too.
    await fsyncDirectory(path.dirname(target)).catch((error: unknown) => {
      throw storageFailed('delete', key, error);
    });
  }

  async exists(key: string): Promise<boolean> {
    assertValidBlobKey(key);
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw storageFailed('exists', key, error);
    }
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    // assertValidBlobKey has ruled out absolute paths and `..`, so this stays under the root.
    return path.join(this.root, ...key.split('/'));
  }
}

/**
 * Removes temp files whose writer is gone. Several processes (roles) may share one data dir,
 * so a file whose writer pid is still alive is left alone: it may be a put in progress.
 */
async function removeStaleTempFiles(tempDir: string): Promise<void> {
  for (const name of await readdir(tempDir)) {
    const pid = Number.parseInt(name.split('-')[0] ?? '', 10);
    if (Number.isSafeInteger(pid) && pid > 0 && isProcessAlive(pid)) continue;
    await rm(path.join(tempDir, name), { force: true, recursive: true });
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 checks existence without signalling
    return true;
  } catch (error) {
    return hasCode(error, 'EPERM'); // exists, owned by someone else
  }
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/** ENOTDIR: a path component is a file, e.g. `a/b` when the blob `a` exists. */
function isMissing(error: unknown): boolean {
  return hasCode(error, 'ENOENT') || hasCode(error, 'ENOTDIR');
}
