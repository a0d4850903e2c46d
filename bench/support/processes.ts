import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = ['--conditions=sealpost-source', '--import', 'tsx'];
const children = new Set<ChildProcess>();

const SERVER_ENTRY = 'dist/cli/main.js';

/**
 * Sealpost is measured as it runs in production: the built JavaScript (`npm run build`, which
 * `npm run bench` runs first) with the Node flags of `npm start` (package.json), read from
 * there so that the two cannot drift — not under tsx, whose loader alone costs ~60 MB of RSS.
 */
export function serverNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.split(' ');
  const flags = words.slice(1, -2);
  if (words[0] !== 'node' || words.at(-2) !== SERVER_ENTRY || words.at(-1) !== 'start' || !flags.every((f) => f.startsWith('--'))) {
    throw new Error(`package.json's start script is not "node [--flags] ${SERVER_ENTRY} start": ${start}`);
  }
  return flags;
}

function serverEntry(): string {
  if (!existsSync(path.join(ROOT, SERVER_ENTRY))) throw new Error(`${SERVER_ENTRY} is missing: run npm run build first (npm run bench does)`);
  return SERVER_ENTRY;
}

/** Starts `sealpost <args>` from the build, as `npm start` does, and waits for the line that carries its port. */
export function startSealpost(args: string[], env: Record<string, string>, portPattern: RegExp): Promise<{ child: ChildProcess; port: number; match: RegExpExecArray }> {
  return spawnAndWait([...serverNodeFlags(), serverEntry(), ...args], env, portPattern, 'sealpost');
}

/** Runs a `sealpost` CLI command from the build and returns its standard output. */
export async function sealpostCli(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [serverEntry(), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  return stdout;
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
// Ctrl-C or a kill of the bench: exit, so that the handlers above and the benches' own clean-ups run.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

/** Starts a TypeScript entry point as its own process and waits for the line that carries its port. */
export function startProcess(
  entry: string,
  args: string[],
  env: Record<string, string>,
  portPattern: RegExp,
  nodeFlags: readonly string[] = [],
): Promise<{ child: ChildProcess; port: number; match: RegExpExecArray }> {
  return spawnAndWait([...nodeFlags, ...TSX, entry, ...args], env, portPattern, entry);
}

function spawnAndWait(argv: string[], env: Record<string, string>, portPattern: RegExp, entry: string): Promise<{ child: ChildProcess; port: number; match: RegExpExecArray }> {
  // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile the servers.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, ...argv], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const match = portPattern.exec(seen);
      if (match) resolve({ child, port: Number(match[1]), match });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}:\n${seen}`)));
  });
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Peak resident set size of a process, from Linux's VmHWM. */
export function peakRssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** CPU time (user + system) a process has used so far, in milliseconds, from /proc/PID/stat. */
export function cpuTimeMs(child: ChildProcess): number {
  // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly accepted: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
}

interface LoadOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly body: string;
  readonly headers: Record<string, string>;
  /** Requests per second, evenly paced; unset means as fast as the server answers. */
  readonly rate?: number;
  /** Paced only: seconds sent at the same rate, unmeasured, on the same connections; then `measureUrl` is told when measuring began. */
  readonly warmup?: { readonly seconds: number; readonly measureUrl: string };
}

/**
 * autocannon, or for a fixed rate bench/support/paced-load.ts (autocannon's -R sends each second's
 * quota in one burst), as a separate process, so the load generator does not share the server's
 * event loop. Both print autocannon's JSON summary.
 */
export function runLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const args = options.rate
    ? [...TSX, path.join(ROOT, 'bench/support/paced-load.ts'), url, String(options.rate), String(options.seconds), String(options.connections)]
    : [
        path.join(ROOT, 'node_modules/autocannon/autocannon.js'),
        ...['-j', '-d', String(options.seconds), '-c', String(options.connections), '-m', 'POST', '-b', options.body],
        ...Object.entries(options.headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
        url,
      ];
  // Loopback benchmark against a self-signed certificate.
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
      BENCH_HEADERS: JSON.stringify(options.headers),
      ...(options.warmup ? { BENCH_WARMUP_SECONDS: String(options.warmup.seconds), BENCH_MEASURE_URL: options.warmup.measureUrl } : {}),
    },
    stdio: [options.rate ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (options.rate) child.stdin?.end(options.body);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      const r = JSON.parse(out) as { requests: { average: number }; '2xx': number; non2xx: number; errors: number; latency: { p50: number; p99: number } };
      resolve({ requestsPerSecond: r.requests.average, accepted: r['2xx'], non2xx: r.non2xx, errors: r.errors, p50: r.latency.p50, p99: r.latency.p99 });
    });
  });
}

/** runLoad, plus the server CPU time (user + system) spent per accepted request, in µs: steadier than throughput on a shared machine. */
export async function runLoadMeasuringCpu(server: ChildProcess, url: string, options: LoadOptions): Promise<LoadResult & { cpuUsPerRequest: number }> {
  const before = cpuTimeMs(server);
  const load = await runLoad(url, options);
  return { ...load, cpuUsPerRequest: ((cpuTimeMs(server) - before) * 1000) / (load.accepted || 1) };
}
