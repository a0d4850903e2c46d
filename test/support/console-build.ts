import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { until } from './poll.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const consoleDir = path.join(root, 'packages/console');
export const CONSOLE_DIST = path.join(consoleDir, 'dist');
/** Held while one process builds; `mkdir` is atomic, so two test processes never build at once. */
const LOCK = path.join(consoleDir, '.build-lock');
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 5 * 60_000;

/** Newest modification time among the console's sources (and @sealpost/verify's, which it bundles). */
function newestSource(): number {
  let newest = 0;
  const visit = (p: string): void => {
    const stat = statSync(p, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) for (const entry of readdirSync(p)) visit(path.join(p, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const p of ['src', 'index.html', 'verify.html', 'vite.config.ts', 'package.json']) visit(path.join(consoleDir, p));
  visit(path.join(root, 'packages/verify/src'));
  return newest;
}

function builtAt(): number {
  return statSync(path.join(CONSOLE_DIST, 'index.html'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
}

const fresh = (): boolean => builtAt() >= newestSource();

function takeLock(): boolean {
  try {
    mkdirSync(LOCK);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
}

/**
 * Builds packages/console/dist (Vite) when it is missing or older than its sources, so the
 * test servers serve the console as it is now. Safe to call from many test files at once: one
 * builds under the lock, the others wait for it.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  if (fresh()) return;
  await until(() => fresh() || takeLock(), { timeoutMs: STALE_LOCK_MS + 60_000, intervalMs: 200, explain: () => 'another process holds the console build lock' });
  if (fresh()) return;
  try {
    await run(path.join(root, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: consoleDir, timeout: 5 * 60_000 });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
