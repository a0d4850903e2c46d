// npx tsx bench/audit.bench.ts — what the audit log costs: ingest throughput with every API call
// audited vs. not (same build, machine and run), and the audit append rate while audited.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runLoad, runLoadMeasuringCpu, startProcess, stopProcess } from './support/processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const body = JSON.stringify({ invoice: 'INV-2026-4711', lines: Array.from({ length: 14 }, (_, i) => ({ sku: `SKU-${i}`, qty: i + 1 })) }).padEnd(2048, ' ');

async function measure(audit: 'on' | 'off'): Promise<{ rps: number; cpuUs: number; auditPerSecond: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `sealpost-audit-bench-${audit}-`));
  try {
    const env = {
      SEALPOST_DATA_DIR: dataDir,
      SEALPOST_HTTP_HOST: '127.0.0.1',
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_RATE_LIMIT_PER_KEY: '10000000',
      SEALPOST_RATE_LIMIT_PER_IP: '10000000',
      BENCH_AUDIT: audit,
    };
    const server = await startProcess('bench/servers/sealpost-api.ts', [], env, /PORT (\d+) API_KEY (\S+)/);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${server.match[2]}` };
    const url = `https://127.0.0.1:${server.port}/v1/payloads`;
    await runLoad(url, { seconds: 2, connections: CONNECTIONS, body, headers }); // warm-up
    const sqlite = new Database(path.join(dataDir, 'sealpost.db'), { readonly: true });
    const before = (sqlite.prepare('select count(*) as n from audit_events').get() as { n: number }).n;
    const load = await runLoadMeasuringCpu(server.child, url, { seconds: SECONDS, connections: CONNECTIONS, body, headers });
    const after = (sqlite.prepare('select count(*) as n from audit_events').get() as { n: number }).n;
    sqlite.close();
    await stopProcess(server.child);
    return { rps: load.requestsPerSecond, cpuUs: load.cpuUsPerRequest, auditPerSecond: (after - before) / SECONDS };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const off = await measure('off');
const on = await measure('on');
console.log(`ingest without per-request audit: ${off.rps.toFixed(0)} req/s, ${off.cpuUs.toFixed(0)} µs server CPU per request`);
console.log(`ingest with every call audited:   ${on.rps.toFixed(0)} req/s, ${on.cpuUs.toFixed(0)} µs server CPU per request (${on.auditPerSecond.toFixed(0)} audit events/s appended)`);
console.log(`audit log cost: ${((1 - on.rps / off.rps) * 100).toFixed(0)} % of ingest throughput, ${((1 - off.cpuUs / on.cpuUs) * 100).toFixed(0)} % of server CPU per request (target: under 15 %)`);
