import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { ensureConsoleBuilt } from './console-build.js';

const run = promisify(execFile);
const script = path.resolve(import.meta.dirname, '../../scripts/pg-throwaway.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the PostgreSQL server the suite runs against, or '' when there is none. */
    pgUrl: string;
    /** Path of the Chromium binary for browser tests, or '' when there is none. */
    chromiumPath: string;
  }
}

/**
 * Browser tests drive Debian's Chromium (never a downloaded browser). In CI it must be there
 * (.ci/run installs it); elsewhere its absence skips the browser tests, loudly.
 */
function provideChromium(project: TestProject): void {
  const candidates = [process.env.SEALPOST_TEST_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p): p is string => Boolean(p) && existsSync(p as string));
  if (!found && process.env.CI) throw new Error('Chromium is required in CI: apt-get install chromium');
  if (!found) console.warn('\n!! Browser tests SKIPPED: no Chromium (apt-get install chromium, or set SEALPOST_TEST_CHROMIUM).\n');
  project.provide('chromiumPath', found ?? '');
}

/**
 * The whole suite runs against SQLite and PostgreSQL. With SEALPOST_TEST_DATABASE_URL set
 * (as .ci/run does) that server is used; otherwise a throw-away cluster is started here, so
 * `npm test` alone covers both dialects wherever PostgreSQL is installed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  provideChromium(project);
  // Every test server serves the console (src/http/console.routes.ts): build it once, up front.
  await ensureConsoleBuilt();
  const given = process.env.SEALPOST_TEST_DATABASE_URL;
  if (given) {
    project.provide('pgUrl', given);
    return async () => {};
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-pg-'));
  try {
    const { stdout } = await run('bash', [script, 'start', dir]);
    project.provide('pgUrl', stdout.trim());
  } catch (err) {
    await run('bash', [script, 'stop', dir]).catch(() => undefined);
    const reason = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI: ${reason}`);
    console.warn(`\n!! PostgreSQL tests SKIPPED: ${reason}\n!! Install PostgreSQL or set SEALPOST_TEST_DATABASE_URL.\n`);
    project.provide('pgUrl', '');
    return async () => {};
  }
  return async () => {
    await run('bash', [script, 'stop', dir]);
  };
}
