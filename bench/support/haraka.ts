// Haraka 3 as the SMTP baseline of bench/smtp.bench.ts: installed from the npm registry into a
// cache under the OS temp dir (never a project dependency), configured with STARTTLS on the same
// certificate as Sealpost and one plugin that accepts every recipient and discards the message.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Reused between runs (the install takes ~20 s); `--clean` removes it. */
export const HARAKA_CACHE = path.join(os.tmpdir(), 'sealpost-bench-haraka');
const HARAKA_VERSION = '3';

/** Accepts every recipient and answers 250 to DATA without keeping the message (Haraka's plugin API). */
const DISCARD_PLUGIN = `
exports.hook_rcpt = function (next) { next(OK); };
exports.hook_queue = function (next) { next(OK); };
`;

export function removeHarakaCache(): void {
  rmSync(HARAKA_CACHE, { recursive: true, force: true });
}

/** Installs Haraka into the cache once; returns its version. */
export function installHaraka(): string {
  const pkg = path.join(HARAKA_CACHE, 'node_modules/Haraka/package.json');
  if (!existsSync(pkg)) {
    mkdirSync(HARAKA_CACHE, { recursive: true });
    writeFileSync(path.join(HARAKA_CACHE, 'package.json'), JSON.stringify({ name: 'sealpost-bench-haraka', private: true }));
    // --ignore-scripts: the optional syslog addon would compile native code, and the bench does not log to syslog.
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `Haraka@${HARAKA_VERSION}`], { cwd: HARAKA_CACHE, stdio: 'ignore' });
  }
  return (JSON.parse(execFileSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(pkg)}))`]).toString()) as { version: string }).version;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function waitForListener(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`Haraka exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Haraka did not listen on ${port} within ${timeoutMs} ms`);
}

/** Starts one Haraka process (its default: no cluster) on 127.0.0.1 with STARTTLS from `cert`/`key`. */
export async function startHaraka(tls: { cert: string; key: string }): Promise<{ child: ChildProcess; port: number; close(): Promise<void> }> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-haraka-run-'));
  const config = path.join(home, 'config');
  // Haraka's shipped defaults (connection.ini and the rest), then ours over them.
  cpSync(path.join(HARAKA_CACHE, 'node_modules/Haraka/config'), config, { recursive: true });
  mkdirSync(path.join(home, 'plugins'));
  const port = await freePort();
  writeFileSync(path.join(config, 'smtp.ini'), `listen=127.0.0.1:${port}\n`);
  writeFileSync(path.join(config, 'me'), 'haraka.bench.test\n');
  writeFileSync(path.join(config, 'log.ini'), '[main]\nlevel=error\n');
  writeFileSync(path.join(config, 'plugins'), 'tls\nbench_discard\n');
  writeFileSync(path.join(config, 'tls.ini'), 'key=tls_key.pem\ncert=tls_cert.pem\ndhparam=dhparams.pem\n');
  // Without DH parameters Haraka spawns `openssl dhparam 2048` at start: up to 30 s of one core,
  // taken from the measured rounds, and left running after Haraka is killed. RFC 7919's group is instant.
  writeFileSync(path.join(config, 'dhparams.pem'), execFileSync('openssl', ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048']));
  copyFileSync(tls.key, path.join(config, 'tls_key.pem'));
  copyFileSync(tls.cert, path.join(config, 'tls_cert.pem'));
  writeFileSync(path.join(home, 'plugins', 'bench_discard.js'), DISCARD_PLUGIN);
  const child = spawn(process.execPath, [path.join(HARAKA_CACHE, 'node_modules/Haraka/bin/haraka'), '-c', home], { stdio: 'ignore' });
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
  };
  // An aborted bench (an error, or Ctrl-C: processes.ts turns the signal into an exit) leaves neither the process nor its directory.
  process.on('exit', () => {
    child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });
  try {
    await waitForListener(port, child, 30_000);
  } catch (error) {
    await close();
    throw error;
  }
  return { child, port, close };
}

/**
 * CPU time (user + system, ms) of a process and all its descendants, from Linux's /proc: Haraka's
 * launcher runs the server in a child process, whose time the parent's counters do not include.
 */
export function treeCpuTimeMs(rootPid: number): number {
  const stats = new Map<number, { ppid: number; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the parenthesised command name: ppid is the 2nd, utime and stime the 12th and 13th.
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 });
    } catch {
      // The process ended between readdir and read.
    }
  }
  let total = 0;
  for (const [pid, stat] of stats) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = stats.get(p)?.ppid) {
      if (p === rootPid) {
        total += stat.ms;
        break;
      }
    }
  }
  return total;
}
