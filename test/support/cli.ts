import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(root, 'src/cli/main.ts');
/** Runs the CLI from source, as `npm run sealpost` does. */
const NODE_ARGS = ['--conditions=sealpost-source', '--import', 'tsx', MAIN];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for a CLI run: only what the test gives, plus PATH (no developer settings leak in). */
export function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...NODE_ARGS, ...args], { cwd: root, env: cliEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** CLI processes started by spawnCli that have not exited yet. */
const running = new Set<ChildProcess>();

export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: root, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/**
 * SIGKILLs every process spawnCli started that still runs, and waits for them. For afterEach or
 * afterAll: a test that times out never reaches its own `finally`, and a `sealpost start` left
 * behind would outlive the test run.
 */
export async function killSpawnedClis(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const exited = waitForExit(child);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    }),
  );
}

const stderrSeen = new WeakMap<ChildProcess, { text: string }>();

/** Resolves with the first match of `pattern` in everything the child wrote to stderr so far or later; rejects if it exits first. */
export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let seen = stderrSeen.get(child);
  if (!seen) {
    const record = { text: '' };
    stderrSeen.set(child, record);
    child.stderr?.on('data', (chunk: Buffer) => (record.text += chunk.toString()));
    seen = record;
  }
  const buffer = seen;
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const match = pattern.exec(buffer.text);
      if (match) resolve(match);
      return match !== null;
    };
    if (check()) return;
    const onData = (): void => {
      if (check()) cleanup();
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`exited with ${code} before printing ${pattern}:\n${buffer.text}`));
    };
    const cleanup = (): void => {
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    // Registered after the recorder, so the text is already appended when this runs.
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    // A child killed by a signal has exitCode null and signalCode set: it has exited all the same.
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}
