// npm run bench — ingest and end-to-end throughput of Sealpost against same-run baselines.
// Prints ratios, never asserts them: machines are shared and noisy.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { ROOT, peakRssMb, runLoad, runLoadMeasuringCpu, startProcess, stopProcess } from './support/processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

function payload2k(): string {
  const lines = Array.from({ length: 14 }, (_, i) => ({ sku: `SKU-${1000 + i}`, description: 'Stainless steel fastener, M8', qty: i + 1, unit_price: 12.5 + i }));
  const body = JSON.stringify({ invoice: 'INV-2026-4711', vendor: { id: 'v-17', name: 'ACME Industrial Supply GmbH' }, currency: 'EUR', lines });
  return body.padEnd(2048, ' ');
}

async function getJson(url: string): Promise<Record<string, number>> {
  const res = await request(url);
  return (await res.body.json()) as Record<string, number>;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-'));
const env = {
  SEALPOST_DATA_DIR: dataDir,
  SEALPOST_HTTP_HOST: '127.0.0.1',
  SEALPOST_HTTP_PORT: '0',
  SEALPOST_SMTP_HOST: '127.0.0.1',
  SEALPOST_SMTP_PORT: '0',
  SEALPOST_LOG_LEVEL: 'warn',
  SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
  SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
  SEALPOST_RATE_LIMIT_PER_KEY: '10000000',
  SEALPOST_RATE_LIMIT_PER_IP: '10000000',
  ...(process.env.BENCH_DATABASE_URL ? { SEALPOST_DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
};

try {
  const created = JSON.parse(
    execFileSync(process.execPath, ['--conditions=sealpost-source', '--import', 'tsx', 'src/cli/main.ts', 'tenants', 'create', '--name', 'bench'], { cwd: ROOT, env: { ...process.env, ...env } }).toString(),
  ) as { api_key: string };
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${created.api_key}` };
  const body = payload2k();
  const tls = { BENCH_CERT: path.join(dataDir, 'tls/self-signed.crt'), BENCH_KEY: path.join(dataDir, 'tls/self-signed.key') };

  const receiver = await startProcess('bench/servers/receiver.ts', [], {}, /PORT (\d+)/);
  const receiverUrl = `http://127.0.0.1:${receiver.port}`;
  const sealpost = await startProcess('src/cli/main.ts', ['start'], env, /listening on https:\/\/127\.0\.0\.1:(\d+)/);
  const sealpostUrl = `https://127.0.0.1:${sealpost.port}/v1/payloads`;
  const bare = await startProcess('bench/servers/bare-fastify.ts', [], tls, /PORT (\d+)/);
  const relay = await startProcess('bench/servers/bare-relay.ts', [], { ...tls, BENCH_TARGET: receiverUrl }, /PORT (\d+)/);

  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, Node ${process.version}, ${process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'SQLite'}`);
  console.log(`load: autocannon, ${CONNECTIONS} keep-alive connections, ${SECONDS} s, 2 KB JSON\n`);

  // (a) ingest only: no destinations yet, so nothing is forwarded.
  await runLoad(sealpostUrl, { seconds: 2, connections: CONNECTIONS, body, headers }); // warm-up
  const ingest = await runLoadMeasuringCpu(sealpost.child, sealpostUrl, { seconds: SECONDS, connections: CONNECTIONS, body, headers });
  const bareIngest = await runLoadMeasuringCpu(bare.child, `https://127.0.0.1:${bare.port}/v1/payloads`, { seconds: SECONDS, connections: CONNECTIONS, body, headers });
  console.log(`(a) ingest: Sealpost ${ingest.requestsPerSecond.toFixed(0)} req/s (p99 ${ingest.p99} ms), bare Fastify ${bareIngest.requestsPerSecond.toFixed(0)} req/s → ratio ${(ingest.requestsPerSecond / bareIngest.requestsPerSecond).toFixed(2)}`);
  console.log(`    server CPU per request: Sealpost ${ingest.cpuUsPerRequest.toFixed(0)} µs, bare Fastify ${bareIngest.cpuUsPerRequest.toFixed(0)} µs`);

  // BENCH_INGEST_ONLY=1 stops here, e.g. to profile ingest alone with BENCH_NODE_ARGS.
  if (process.env.BENCH_INGEST_ONLY) {
    for (const p of [relay, bare, sealpost, receiver]) await stopProcess(p.child);
    process.exit(0);
  }

  // (b) end to end: ingest → stored → delivered to the loopback receiver.
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const dst = await request(`https://127.0.0.1:${sealpost.port}/v1/destinations`, { method: 'POST', dispatcher: agent, headers, body: JSON.stringify({ url: `${receiverUrl}/hook` }) });
  if (dst.statusCode !== 201) throw new Error(`destination: ${dst.statusCode} ${await dst.body.text()}`);
  await dst.body.dump();

  const e2e = async (url: string, rate?: number): Promise<{ perSecond: number; p50: number; p99: number; accepted: number }> => {
    await getJson(`${receiverUrl}/reset`);
    const start = Date.now();
    const load = await runLoad(url, { seconds: SECONDS, connections: CONNECTIONS, body, headers, ...(rate ? { rate } : {}) });
    await waitFor(async () => (await getJson(receiverUrl)).count! >= load.accepted, 120_000);
    const stats = await getJson(receiverUrl);
    return { perSecond: (stats.count! * 1000) / (stats.last! - start), p50: stats.p50!, p99: stats.p99!, accepted: load.accepted };
  };
  const sealpostE2e = await e2e(sealpostUrl);
  const relayE2e = await e2e(`https://127.0.0.1:${relay.port}/v1/payloads`);
  console.log(`(b) end to end: Sealpost ${sealpostE2e.perSecond.toFixed(0)} payloads/s, store-nothing relay ${relayE2e.perSecond.toFixed(0)} payloads/s → ratio ${(sealpostE2e.perSecond / relayE2e.perSecond).toFixed(2)}`);

  const half = Math.max(1, Math.floor(sealpostE2e.perSecond / 2));
  const paced = await e2e(sealpostUrl, half);
  console.log(`(c) ingest→delivered latency at ${half} payloads/s: p50 ${paced.p50} ms, p99 ${paced.p99} ms`);
  console.log(`(d) Sealpost peak RSS: ${peakRssMb(sealpost.child)} MB`);

  await agent.close();
  for (const p of [relay, bare, sealpost, receiver]) await stopProcess(p.child);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
