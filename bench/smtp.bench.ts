// npx tsx bench/smtp.bench.ts [--clean] — SMTP ingress throughput and memory, against Haraka in the same run.
// Prints numbers and ratios, never asserts them: machines are shared and noisy.
//
// (a) messages/s for ~100 KB messages with one attachment, 8 pooled STARTTLS connections. Sealpost
//     does all it does in production (parse, SPF/DKIM/DMARC through its cached resolver, encrypted
//     raw message and attachment, payload + outbox + receipt + audit committed before 250, the
//     worker signing and forwarding to a loopback receiver); a message counts when the 250 arrives
//     (durably accepted), and the forwarded rate is printed beside it. Baseline: Haraka 3 from npm
//     (installed by the bench into the OS temp dir, cached; --clean removes it), one process,
//     STARTTLS on the same certificate, a plugin that discards accepted mail. The two run in
//     alternating rounds so that load from elsewhere on the machine hits both alike; each round's
//     ratio and the median are printed. For context, an smtp-server that reads and discards.
//     Second baseline, the one the work itself sets: the same durable work and forwarding written
//     lean (bench/servers/lean-smtp.ts, in a database of Sealpost's schema), run in the same
//     alternation; Sealpost / lean says how close Sealpost is to its own work's limit, and
//     lean / Haraka is the ceiling of the Haraka ratio for any server that does that work.
// (b) peak RSS of the server process while it takes a 25 MB attachment (streamed by the client).
// BENCH_JSON=path (as for bench/run.ts, which writes that file first in `npm run bench`) adds
// these results to it under `smtp`, for bench/readme-table.ts.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { Agent, request } from 'undici';
import { installHaraka, removeHarakaCache, startHaraka, treeCpuTimeMs } from './support/haraka.js';
import { ROOT, cpuTimeMs, serverNodeFlags, startProcess, stopProcess } from './support/processes.js';
import { TARGETS, median, type SmtpBenchResults } from './support/targets.js';

/** Per round and server. */
const MESSAGES = Number(process.env.BENCH_SMTP_MESSAGES ?? 200);
const ROUNDS = Number(process.env.BENCH_SMTP_ROUNDS ?? 3);
const CONNECTIONS = 8;

if (process.argv.includes('--clean')) {
  removeHarakaCache();
  console.log('removed the cached Haraka install');
  process.exit(0);
}
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
const leanDir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-smtp-bench-lean-'));
// Removed at exit, however the bench ends (an error, Ctrl-C: bench/support/processes.ts).
process.on('exit', () => [dataDir, leanDir].forEach((dir) => rmSync(dir, { recursive: true, force: true })));
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

const created = JSON.parse(
  execFileSync(process.execPath, ['--conditions=sealpost-source', '--import', 'tsx', 'src/cli/main.ts', 'tenants', 'create', '--name', 'bench'], { cwd: ROOT, env: { ...process.env, ...env } }).toString(),
) as { api_key: string };
// The lean baseline's database: Sealpost's schema, migrated by the same command.
execFileSync(process.execPath, ['--conditions=sealpost-source', '--import', 'tsx', 'src/cli/main.ts', 'tenants', 'create', '--name', 'bench'], {
  cwd: ROOT,
  env: { ...process.env, ...env, SEALPOST_DATA_DIR: leanDir },
});
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

let server = await startProcess('bench/smtp-server.ts', [], env, SERVER_READY, serverNodeFlags());
let apiPort = Number(server.match[2]);
await api(apiPort, '/v1/destinations', 'POST', { url: `${receiverUrl}/hook` });
const inbox = (await api(apiPort, '/v1/inboxes', 'POST', {})) as { address: string };

const messages = await Promise.all(
  // Distinct per round: the same bytes sent again are a replay to Sealpost (its 250 without a new payload).
  Array.from({ length: 20 + ROUNDS * MESSAGES }, (_, i) =>
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

const sendAll = async (port: number, batch: Buffer[], recipient = inbox.address): Promise<number> => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: CONNECTIONS, maxMessages: Infinity, requireTLS: true, tls: { rejectUnauthorized: false } });
  const t0 = Date.now();
  await Promise.all(batch.map((raw) => transport.sendMail({ envelope: { from: 'bounces@vendor.example', to: [recipient] }, raw })));
  const elapsed = Date.now() - t0;
  transport.close();
  return elapsed;
};

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, Node ${process.version}, ${process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'SQLite'}`);
console.log(`load: nodemailer pool, ${CONNECTIONS} STARTTLS connections, ${MESSAGES} messages of ~${averageKb} KB with one attachment, ${ROUNDS} rounds`);

// (a) Alternating rounds: Sealpost (stored, then forwarded), Haraka, read-and-discard smtp-server.
const harakaVersion = installHaraka();
const haraka = await startHaraka({ cert: path.join(dataDir, 'tls/self-signed.crt'), key: path.join(dataDir, 'tls/self-signed.key') });
const floor = await startProcess('bench/smtp-server.ts', [], { ...env, BENCH_BASELINE: '1' }, SERVER_READY);
const lean = await startProcess(
  'bench/servers/lean-smtp.ts',
  [],
  { BENCH_DB: path.join(leanDir, 'sealpost.db'), BENCH_CERT: path.join(dataDir, 'tls/self-signed.crt'), BENCH_KEY: path.join(dataDir, 'tls/self-signed.key'), BENCH_RECEIVER: `${receiverUrl}/hook` },
  /SMTP (\d+) INBOX (\S+)/,
  serverNodeFlags(),
);
const leanPort = Number(lean.match[1]);
const leanInbox = lean.match[2]!;
const smtpPort = Number(server.match[1]);
const floorPort = Number(floor.match[1]);
console.log(`baseline: Haraka ${harakaVersion}, one process, STARTTLS, discard plugin\n`);
// Warm-up of all three (TLS, JIT, data keys), then wait until the warm-up mail is forwarded.
await sendAll(smtpPort, messages.slice(0, 20));
await sendAll(haraka.port, messages.slice(0, 20));
await sendAll(floorPort, messages.slice(0, 20));
await until(async () => (await received()).count >= 20, 60_000);
await request(`${receiverUrl}/reset`).then((r) => r.body.dump());
await sendAll(leanPort, messages.slice(0, 20), leanInbox);
await until(async () => (await received()).count >= 20, 60_000);

const ratios: number[] = [];
const leanRatios: number[] = [];
const ceilings: number[] = [];
const rates = { sealpost: [] as number[], lean: [] as number[], haraka: [] as number[] };
const sealpostCpu: number[] = [];
const leanCpu: number[] = [];
const harakaCpu: number[] = [];
const rows: string[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  await request(`${receiverUrl}/reset`).then((r) => r.body.dump());
  const t0 = Date.now();
  const batch = messages.slice(20 + (round - 1) * MESSAGES, 20 + round * MESSAGES);
  const cpu0 = cpuTimeMs(server.child);
  const storedRate = (MESSAGES * 1000) / (await sendAll(smtpPort, batch));
  const forwarded = await until(async () => (await received()).count >= MESSAGES, 300_000);
  const stats = await received();
  const forwardedRate = (stats.count * 1000) / (stats.last - t0);
  // Server CPU (user + system) per message, forwarding included: steadier than rates on a shared machine.
  sealpostCpu.push((cpuTimeMs(server.child) - cpu0) / MESSAGES);
  // The lean same-work server, counted the same way (250s, then forwarded, CPU of both).
  await request(`${receiverUrl}/reset`).then((r) => r.body.dump());
  const leanCpu0 = cpuTimeMs(lean.child);
  const leanRate = (MESSAGES * 1000) / (await sendAll(leanPort, batch, leanInbox));
  const leanForwarded = await until(async () => (await received()).count >= MESSAGES, 300_000);
  leanCpu.push((cpuTimeMs(lean.child) - leanCpu0) / MESSAGES);
  const harakaCpu0 = treeCpuTimeMs(haraka.child.pid!);
  const harakaRate = (MESSAGES * 1000) / (await sendAll(haraka.port, batch));
  harakaCpu.push((treeCpuTimeMs(haraka.child.pid!) - harakaCpu0) / MESSAGES);
  const floorRate = (MESSAGES * 1000) / (await sendAll(floorPort, batch));
  rates.sealpost.push(storedRate);
  rates.lean.push(leanRate);
  rates.haraka.push(harakaRate);
  ratios.push(storedRate / harakaRate);
  leanRatios.push(storedRate / leanRate);
  ceilings.push(leanRate / harakaRate);
  rows.push(
    `round ${round}: Sealpost ${storedRate.toFixed(0)} msg/s accepted, ${forwarded ? `${forwardedRate.toFixed(0)} msg/s forwarded` : `only ${stats.count}/${MESSAGES} forwarded in 300 s`}; ` +
      `lean same-work ${leanRate.toFixed(0)} msg/s${leanForwarded ? '' : ' (NOT all forwarded in 300 s)'}; ` +
      `Haraka ${harakaRate.toFixed(0)} msg/s → ratio ${(storedRate / harakaRate).toFixed(2)}, to lean ${(storedRate / leanRate).toFixed(2)}; read-and-discard smtp-server ${floorRate.toFixed(0)} msg/s`,
  );
  console.log(rows[rows.length - 1]);
}
console.log(`(a) SMTP accept → stored vs Haraka discarding: median ratio ${median(ratios).toFixed(2)} over ${ROUNDS} rounds (target ≥ ${TARGETS.smtpToHaraka.toFixed(1)})`);
console.log(`    ceiling: lean same-work / Haraka ${median(ceilings).toFixed(2)} (the Haraka ratio any server doing this work can reach here)`);
console.log(`    Sealpost / lean same-work: median ${median(leanRatios).toFixed(2)} (context: how close Sealpost is to its own work's limit)`);
console.log(
  `    server CPU per message (median): Sealpost ${median(sealpostCpu).toFixed(1)} ms, lean same-work ${median(leanCpu).toFixed(1)} ms (both forwarding included), Haraka ${median(harakaCpu).toFixed(1)} ms`,
);
await haraka.close();
await stopProcess(floor.child);
await stopProcess(lean.child);
await stopProcess(server.child);

// (b) Peak RSS for a 25 MB attachment, in a fresh server process.
server = await startProcess('bench/smtp-server.ts', [], env, SERVER_READY, serverNodeFlags());
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
console.log(
  `(b) 25 MB attachment: stored in ${bigMs} ms (${intact ? 'hash matches' : 'HASH MISMATCH'}); server RSS ${before.rss} MB before, peak ${after.peak} MB (+${after.peak - before.rss} MB, target < ${TARGETS.bigAttachmentRssGrowthMb} MB)`,
);

if (process.env.BENCH_JSON) {
  const smtp: SmtpBenchResults = {
    date: new Date().toISOString(),
    rounds: ROUNDS,
    messages: MESSAGES,
    connections: CONNECTIONS,
    messageKb: averageKb,
    harakaVersion,
    sealpostPerSecond: median(rates.sealpost),
    leanPerSecond: median(rates.lean),
    harakaPerSecond: median(rates.haraka),
    sealpostCpuMs: median(sealpostCpu),
    leanCpuMs: median(leanCpu),
    harakaCpuMs: median(harakaCpu),
    ratioToHaraka: median(ratios),
    ratioToLean: median(leanRatios),
    ceiling: median(ceilings),
    bigAttachment: { ms: bigMs, intact, rssGrowthMb: after.peak - before.rss },
  };
  const file = process.env.BENCH_JSON;
  const results = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...results, smtp }, null, 2)}\n`);
}

await stopProcess(server.child);
await stopProcess(receiver.child);
await agent.close();
