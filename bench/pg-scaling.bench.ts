// npx tsx --conditions=sealpost-source bench/pg-scaling.bench.ts — ingest on PostgreSQL with
// 1 → 2 → 4 `sealpost start --role api` processes over one database (issue 16), and whether the
// audit log's head row (one UPDATE per append, held to commit) makes appenders queue: sampled
// from pg_stat_activity as the share of busy backends waiting on a lock.
// BENCH_DATABASE_URL uses an existing server; without it a throw-away cluster is started by
// scripts/pg-throwaway.sh (fsync off: that measures CPU and lock scaling, not the disk's commit rate).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Agent, request } from 'undici';
import { ROOT, runLoad, sealpostCli, startSealpost, stopProcess } from './support/processes.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const COUNTS = (process.env.BENCH_API_PROCESSES ?? '1,2,4').split(',').map(Number);
const RATE_LIMIT = '10000000';
const body = JSON.stringify({ invoice: 'INV-2026-4711', lines: Array.from({ length: 14 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: i + 1 })) }).padEnd(2048, ' ');

const pgDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-pg-'));
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-pgdata-'));
let ownCluster = false;
try {
  let adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) {
    adminUrl = (await run('bash', [path.join(ROOT, 'scripts/pg-throwaway.sh'), 'start', pgDir])).stdout.trim();
    ownCluster = true;
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const dbName = `sealpost_bench_${process.pid}`;
  await admin.query(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const env = {
    SEALPOST_DATA_DIR: dataDir,
    SEALPOST_DATABASE_URL: url.toString(),
    SEALPOST_HTTP_HOST: '127.0.0.1',
    SEALPOST_HTTP_PORT: '0',
    SEALPOST_LOG_LEVEL: 'warn',
    SEALPOST_PUBLIC_URL: 'https://sealpost.bench.invalid',
    SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
    SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
    SEALPOST_RATE_LIMIT_PER_KEY: RATE_LIMIT,
    SEALPOST_RATE_LIMIT_PER_IP: RATE_LIMIT,
  };
  const apiKey = (JSON.parse(await sealpostCli(['tenants', 'create', '--name', 'bench'], env)) as { api_key: string }).api_key;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const watcher = new pg.Client({ connectionString: url.toString() });
  await watcher.connect();

  console.log(`PostgreSQL ingest scaling: ${os.cpus().length} cores, ${CONNECTIONS} connections in all, ${SECONDS} s per step, ${ownCluster ? 'throw-away cluster (fsync off)' : 'BENCH_DATABASE_URL'}`);
  console.log(`rate limits set for the bench: SEALPOST_RATE_LIMIT_PER_KEY=${RATE_LIMIT}, SEALPOST_RATE_LIMIT_PER_IP=${RATE_LIMIT} per minute`);
  let destinationAdded = false;
  let single = 0;
  for (const count of COUNTS) {
    // One after another: the first start writes the data dir's TLS certificate the others read.
    const apis: Awaited<ReturnType<typeof startSealpost>>[] = [];
    for (let i = 0; i < count; i++) apis.push(await startSealpost(['start', '--role', 'api'], env, /listening on https:\/\/127\.0\.0\.1:(\d+)/));
    const urls = apis.map((a) => `https://127.0.0.1:${a.port}/v1/payloads`);
    if (!destinationAdded) {
      // One destination, so every ingest writes its outbox row too.
      const agent = new Agent({ connect: { rejectUnauthorized: false } });
      const res = await request(`https://127.0.0.1:${apis[0]!.port}/v1/destinations`, { method: 'POST', dispatcher: agent, headers, body: JSON.stringify({ url: 'http://127.0.0.1:9/hook' }) });
      if (res.statusCode !== 201) throw new Error(`destination: ${res.statusCode} ${await res.body.text()}`);
      await res.body.dump();
      await agent.close();
      destinationAdded = true;
    }
    const per = Math.max(1, Math.floor(CONNECTIONS / count));
    await Promise.all(urls.map((u) => runLoad(u, { seconds: 2, connections: per, body, headers }))); // warm-up
    const samples: { active: number; lockWait: number }[] = [];
    // What the lock waiters are running: the statement names the serialisation point.
    const waitingOn = new Map<string, number>();
    const sampler = setInterval(() => {
      void watcher
        .query<{ state: string | null; wait_event_type: string | null; query: string }>(
          `select state, wait_event_type, query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
        )
        .then((r) => {
          const busy = r.rows.filter((x) => x.state !== 'idle');
          const locked = busy.filter((x) => x.wait_event_type === 'Lock');
          for (const x of locked) {
            const statement = x.query.replace(/\s+/g, ' ').slice(0, 70);
            waitingOn.set(statement, (waitingOn.get(statement) ?? 0) + 1);
          }
          samples.push({ active: busy.length, lockWait: locked.length });
        });
    }, 100);
    const loads = await Promise.all(urls.map((u) => runLoad(u, { seconds: SECONDS, connections: per, body, headers })));
    clearInterval(sampler);
    const rps = loads.reduce((s, l) => s + l.requestsPerSecond, 0);
    const failed = loads.reduce((s, l) => s + l.non2xx + l.errors, 0);
    if (count === COUNTS[0]) single = rps / count;
    const active = samples.reduce((s, x) => s + x.active, 0) / (samples.length || 1);
    const waiting = samples.reduce((s, x) => s + x.lockWait, 0) / (samples.length || 1);
    console.log(
      `  ${count} api process${count > 1 ? 'es' : ''}: ${rps.toFixed(0)} req/s (×${(rps / (single * COUNTS[0]!)).toFixed(2)} of ${COUNTS[0]}), ` +
        `busy backends ${active.toFixed(1)} on average, of which waiting on a lock ${waiting.toFixed(1)} (${active ? ((100 * waiting) / active).toFixed(0) : 0} %)${failed ? `; ${failed} requests not 2xx` : ''}`,
    );
    for (const [statement, n] of [...waitingOn].sort((a, b) => b[1] - a[1]).slice(0, 3)) console.log(`      lock waits in: ${statement} (${n} samples)`);
    for (const a of apis) await stopProcess(a.child);
  }
  await watcher.end();
  await admin.query(`drop database ${dbName} with (force)`);
  await admin.end();
} finally {
  if (ownCluster) await run('bash', [path.join(ROOT, 'scripts/pg-throwaway.sh'), 'stop', pgDir]);
  rmSync(pgDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
