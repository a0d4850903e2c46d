import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CRASH } from '../../src/logging/crash-handlers.js';

const root = path.resolve(import.meta.dirname, '../..');
const FIXTURE = path.join(import.meta.dirname, 'fixtures/crash.ts');

function runFixture(mode: 'throw' | 'reject'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', FIXTURE, mode], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe('process crash handlers', () => {
  it.each([
    ['throw', 'uncaughtException'],
    ['reject', 'unhandledRejection'],
  ] as const)('on %s: logs one fatal line without secrets and exits with EXIT_CRASH', async (mode, event) => {
    const { code, stdout } = await runFixture(mode);
    expect(code).toBe(EXIT_CRASH);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { level: string; event: string; err: { message: string; stack: string; token?: string } };
    expect(line).toMatchObject({ level: 'fatal', event, err: { message: `injected ${mode}` } });
    expect(line.err.stack).toContain('crash.ts');
    expect(stdout).not.toContain('sp_live_must_not_be_logged');
  });
});
