import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LocalBlobStore, TEMP_DIR } from '../../src/storage/local-blob-store.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixture = path.join(import.meta.dirname, 'fixtures/put-until-killed.ts');

let dir: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-crash-'));
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  child = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Polls until the writer's temp file holds its first MiB, or the writer dies trying. */
async function waitForTempFile(tempDir: string, writer: ChildProcess, stderr: () => string): Promise<string> {
  for (;;) {
    if (writer.exitCode !== null) throw new Error(`writer exited early (${writer.exitCode}): ${stderr()}`);
    const names = await readdir(tempDir).catch(() => [] as string[]);
    const name = names.find((n) => n.startsWith(`${writer.pid}-`));
    if (name && (await stat(path.join(tempDir, name))).size >= 1024 * 1024) return name;
    await delay(20); // polling interval, not a wait for an assumed duration
  }
}

it('a writer killed between temp write and rename leaves no partial blob', async () => {
  const root = path.join(dir, 'blobs');
  const tempDir = path.join(root, TEMP_DIR);
  const writer = spawn(process.execPath, ['--import', 'tsx', fixture, root, 'ten_a/raw/msg'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  child = writer;
  let stderr = '';
  writer.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => writer.once('exit', (_code, signal) => resolve(signal)));

  const tempName = await waitForTempFile(tempDir, writer, () => stderr);
  writer.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');

  expect(await readdir(tempDir)).toEqual([tempName]); // the crash did leave its temp file...
  const store = await LocalBlobStore.open(root);
  expect(await store.exists('ten_a/raw/msg')).toBe(false); // ...but never a blob under the key
  await expect(store.get('ten_a/raw/msg')).rejects.toMatchObject({ code: 'SP_ERR_STORAGE_BLOB_NOT_FOUND' });
  expect(await readdir(tempDir)).toEqual([]); // and opening the store cleaned it up
});
