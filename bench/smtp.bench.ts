// npx tsx bench/smtp.bench.ts — SMTP ingress throughput and memory, against a same-run baseline.
// Prints numbers and ratios, never asserts them: machines are shared and noisy.
//
// (a) messages/s for ~100 KB messages with one attachment, 8 concurrent STARTTLS connections,
//     from SMTP accept to stored (250) and to forwarded (the loopback destination answered 2xx);
//     baseline: an smtp-server with the same TLS that reads each message and stores nothing.
// (b) peak RSS of the server process while it takes a 25 MB attachment (streamed by the client).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { Agent, request } from 'undici';
import { ROOT, startProcess, stopProcess } from './support/processes.js';

const MESSAGES = Number(process.env.BENCH_SMTP_MESSAGES ?? 600);
const CONNECTIONS = 8;
const BIG_ATTACHMENT_BYTES = 25 * 1024 * 1024;
/** VmRSS (now) and VmHWM (peak since start) of a process, in MB, from Linux's /proc. */
function memoryMb(child: ChildProcess): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const mb = (pattern: RegExp): number => Math.round(Number(pattern.exec(status)?.[1] ?? 0) / 1024);
  return { rss: mb(/VmRSS:\s+(\d+)/), peak: mb(/VmHWM:\s+(\d+)/) };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-smtp-bench-'));
const env = {
  SEALPOST_DATA_DIR: dataDir,
  SEALPOST_HTTP_HOST: '127.0.0.1',
  SEALPOST_HTTP_PORT: '0',
  SEALPOST_LOG_LEVEL: 'warn',
  SEALPOST_INBOUND_DOMAIN: 'in.bench.test',
  SEALPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
  SEALPOST_ALLOW_HTTP_DESTINATIONS: 'true',
  SEALPOST_RATE_LIMIT_PER_KEY: '10000000',
  SEALPOST_RATE_LIMIT_PER_IP: '10000000',
  SEALPOST_SMTP_RATE_LIMIT_PER_IP: '10000000',
  SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP: '1000',
  ...(process.env.BENCH_DATABASE_URL ? { SEALPOST_DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
};
const SERVER_READY = /SMTP (\d+) API (\d+)/;

try {
  const created = JSON.parse(
    execFileSync(process.execPath, ['--conditions=sealpost-source', '--import', 'tsx', 'src/cli/main.ts', 'tenants', 'create', '--name', 'bench'], { cwd: ROOT, env: { ...process.env, ...env } }).toString(),
  ) as { api_key: string };
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${created.api_key}` };
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const api = async (port: number, pathname: string, method = 'GET', body?: unknown): Promise<unknown> => {
    const res = await request(`https://127.0.0.1:${port}${pathname}`, { method: method as 'GET', dispatcher: agent, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${pathname}: ${res.statusCode} ${await res.body.text()}`);
    return res.body.json();
  };

  const receiver = await startProcess('bench/servers/receiver.ts', [], {}, /PORT (\d+)/);
  const receiverUrl = `http://127.0.0.1:${receiver.match[1]}`;
  const received = async (): Promise<{ count: number; last: number }> => (await (await request(receiverUrl)).body.json()) as { count: number; last: number };

  let server = await startProcess('bench/smtp-server.ts', [], env, SERVER_READY);
  let apiPort = Number(server.match[2]);
  await api(apiPort, '/v1/destinations', 'POST', { url: `${receiverUrl}/hook` });
  const inbox = (await api(apiPort, '/v1/inboxes', 'POST', {})) as { address: string };

  const messages = await Promise.all(
    Array.from({ length: MESSAGES + 20 }, (_, i) =>
      new MailComposer({
        from: 'ACME Billing <billing@vendor.example>',
        to: inbox.address,
        subject: `Invoice INV-${i}`,
        messageId: `<inv-${i}.${Date.now()}@vendor.example>`,
        text: 'Please find the invoice attached.',
        attachments: [{ filename: `INV-${i}.pdf`, content: randomBytes(72 * 1024), contentType: 'application/pdf' }],
      })
        .compile()
        .build(),
    ),
  );
  const averageKb = Math.round(messages.reduce((n, m) => n + m.length, 0) / messages.length / 1024);

  const sendAll = async (port: number, batch: Buffer[]): Promise<number> => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: CONNECTIONS, maxMessages: Infinity, requireTLS: true, tls: { rejectUnauthorized: false } });
    const t0 = Date.now();
    await Promise.all(batch.map((raw) => transport.sendMail({ envelope: { from: 'bounces@vendor.example', to: [inbox.address] }, raw })));
    const elapsed = Date.now() - t0;
    transport.close();
    return elapsed;
  };

  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, Node ${process.version}, ${process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'SQLite'}`);
  console.log(`load: nodemailer pool, ${CONNECTIONS} STARTTLS connections, ${MESSAGES} messages of ~${averageKb} KB with one attachment\n`);

  // (a) Sealpost: accept → stored, and → forwarded.
  const smtpPort = Number(server.match[1]);
  await sendAll(smtpPort, messages.slice(0, 20)); // warm-up (TLS, JIT, data keys)
  await until(async () => (await received()).count >= 20, 60_000);
  await request(`${receiverUrl}/reset`).then((r) => r.body.dump());
  const t0 = Date.now();
  const storedMs = await sendAll(smtpPort, messages.slice(20));
  const forwarded = await until(async () => (await received()).count >= MESSAGES, 300_000);
  const stats = await received();
  const storedRate = (MESSAGES * 1000) / storedMs;
  const forwardedRate = (stats.count * 1000) / (stats.last - t0);
  await stopProcess(server.child);

  // Baseline: same client, same TLS, nothing stored.
  const baseline = await startProcess('bench/smtp-server.ts', [], { ...env, BENCH_BASELINE: '1' }, SERVER_READY);
  await sendAll(Number(baseline.match[1]), messages.slice(0, 20));
  const baselineMs = await sendAll(Number(baseline.match[1]), messages.slice(20));
  const baselineRate = (MESSAGES * 1000) / baselineMs;
  await stopProcess(baseline.child);

  console.log(`(a) accept → stored:    Sealpost ${storedRate.toFixed(0)} msg/s, read-and-discard smtp-server ${baselineRate.toFixed(0)} msg/s → ratio ${(storedRate / baselineRate).toFixed(2)}`);
  console.log(`    accept → forwarded: ${forwarded ? `${forwardedRate.toFixed(0)} msg/s (${stats.count} delivered with 2xx)` : `incomplete: ${stats.count}/${MESSAGES} delivered within 300 s`}`);

  // (b) Peak RSS for a 25 MB attachment, in a fresh server process.
  server = await startProcess('bench/smtp-server.ts', [], env, SERVER_READY);
  apiPort = Number(server.match[2]);
  await sendAll(Number(server.match[1]), messages.slice(0, 5));
  const before = memoryMb(server.child);
  const hash = createHash('sha256');
  let produced = 0;
  const content = new Readable({
    read() {
      if (produced >= BIG_ATTACHMENT_BYTES) return void this.push(null);
      const chunk = randomBytes(Math.min(256 * 1024, BIG_ATTACHMENT_BYTES - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(server.match[1]), requireTLS: true, tls: { rejectUnauthorized: false } });
  const t1 = Date.now();
  const info = await transport.sendMail({ from: 'billing@vendor.example', to: inbox.address, subject: 'Big', text: 'big', attachments: [{ filename: 'big.bin', content }] });
  const bigMs = Date.now() - t1;
  const after = memoryMb(server.child);
  const id = /(msg_[0-9A-Z]{26})/.exec(info.response)?.[1];
  const payload = id ? ((await api(apiPort, `/v1/payloads/${id}`)) as { envelope: { attachments: { size: number; sha256: string }[] } }) : undefined;
  const stored = payload?.envelope.attachments[0];
  const intact = stored?.size === BIG_ATTACHMENT_BYTES && stored.sha256 === hash.digest('hex');
  console.log(`(b) 25 MB attachment: stored in ${bigMs} ms (${intact ? 'hash matches' : 'HASH MISMATCH'}); server RSS ${before.rss} MB before, peak ${after.peak} MB (+${after.peak - before.rss} MB)`);

  await stopProcess(server.child);
  await stopProcess(receiver.child);
  await agent.close();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
