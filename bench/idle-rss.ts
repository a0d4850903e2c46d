// npx tsx bench/idle-rss.ts [role ...] — resident memory of an idle `sealpost start --role <role>`
// (issue 16: every module a role loads but never runs is RSS it carries under load). Measures the
// built CLI, so run `npm run build` first; builds nothing itself. Prints numbers, asserts none.
//
// Each role starts alone over a fresh SQLite data directory (loopback, port 0, log level warn),
// and 2 s after it says it is running, VmRSS is read from /proc/PID/status; then it is stopped
// with SIGTERM and its directory removed. Roles run one after another to keep the load low.
// Idle RSS moves by a few MB from run to run (when the collector last ran), so each role starts
// BENCH_IDLE_RSS_RUNS times (default 3) and the median is printed beside the runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { median } from './support/targets.js';
import { ROOT, stopProcess } from './support/processes.js';

const ROLES = ['api', 'smtp', 'worker', 'all'] as const;
const RUNS = Number(process.env.BENCH_IDLE_RSS_RUNS ?? 3);
const CLI = path.join(ROOT, 'dist/cli/main.js');
/** Lets start-up garbage settle and lazy first-use imports of an idle process happen. */
const SETTLE_MS = 2000;
/** `start` writes its summary ("… listening on …", "Delivery worker … running") once every role is up. */
const STARTED = /listening on|running/;

function vmRssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

function started(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (STARTED.test(seen)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sealpost exited with ${code}:\n${seen}`)));
  });
}

async function idleRss(role: string): Promise<number> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-idle-rss-'));
  const env = {
    ...process.env,
    SEALPOST_DATA_DIR: dataDir,
    SEALPOST_HTTP_HOST: '127.0.0.1',
    SEALPOST_HTTP_PORT: '0',
    SEALPOST_SMTP_HOST: '127.0.0.1',
    SEALPOST_SMTP_PORT: '0',
    SEALPOST_LOG_LEVEL: 'warn',
    SEALPOST_PUBLIC_URL: 'https://x.invalid',
  };
  const child = spawn(process.execPath, [CLI, 'start', '--role', role], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await started(child);
    await delay(SETTLE_MS);
    return vmRssMb(child);
  } finally {
    await stopProcess(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (!existsSync(CLI)) {
  console.error(`${CLI} is missing: run npm run build first`);
  process.exit(1);
}
const roles = process.argv.length > 2 ? process.argv.slice(2) : ROLES;
for (const role of roles) {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await idleRss(role));
  console.log(`${role.padEnd(6)} idle VmRSS median ${median(runs)} MB (runs: ${runs.join(', ')})`);
}
