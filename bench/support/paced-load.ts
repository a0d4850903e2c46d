// An open-loop load generator: requests leave at evenly spaced times, whatever the answers do.
// autocannon's -R sends each second's quota back to back and then waits for the next second, so
// "half the maximum rate" arrived as bursts at full speed and latency measured the queue behind
// each burst. Run as its own process (like autocannon); prints one JSON line like autocannon -j.
// Usage: tsx paced-load.ts URL RATE SECONDS CONNECTIONS (body on stdin, headers in BENCH_HEADERS)
// With BENCH_WARMUP_SECONDS, it first sends at the same rate for that long, unmeasured, on the same
// connections: a client in steady state has its connections open, while 32 TLS handshakes at the
// start of the clock were most of the measured p99. Between the phases it GETs BENCH_MEASURE_URL
// with ?from=<epoch ms> (the receiver then counts only payloads received from then on).
import { Pool } from 'undici';
import { percentile } from './percentile.js';

const [url, rateArg, secondsArg, connectionsArg] = process.argv.slice(2);
if (!url || !rateArg || !secondsArg || !connectionsArg) throw new Error('usage: paced-load URL RATE SECONDS CONNECTIONS');
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const headers = JSON.parse(process.env.BENCH_HEADERS ?? '{}') as Record<string, string>;
const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const body = Buffer.concat(chunks);

const target = new URL(url);
const pool = new Pool(target.origin, { connections: Number(connectionsArg), connect: { rejectUnauthorized: false } });
let latencies: number[] = [];
let accepted = 0;
let non2xx = 0;
let errors = 0;
const pending = new Set<Promise<void>>();
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 0);

const send = (): void => {
  const started = performance.now();
  const done = pool
    .request({ method: 'POST', path: target.pathname, headers, body })
    .then(async (res) => {
      await res.body.dump();
      latencies.push(performance.now() - started);
      if (res.statusCode >= 200 && res.statusCode < 300) accepted++;
      else non2xx++;
    })
    .catch(() => {
      errors++;
    })
    .finally(() => pending.delete(done));
  pending.add(done);
};

/** Sends `total` requests evenly over `phaseSeconds` and waits for every answer; returns when the phase started. */
async function phase(phaseSeconds: number): Promise<number> {
  const total = Math.round(rate * phaseSeconds);
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    // A 2 ms tick sends whatever is due by now, so timer jitter does not lower the rate.
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
      while (sent < due) {
        send();
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  await Promise.all([...pending]);
  return start;
}

if (warmupSeconds > 0) {
  await phase(warmupSeconds);
  // Every warm-up request has been answered: its payload's received_at is before this instant.
  const measureUrl = process.env.BENCH_MEASURE_URL;
  if (measureUrl) await (await fetch(`${measureUrl}?from=${Date.now()}`)).arrayBuffer();
  [latencies, accepted, non2xx, errors] = [[], 0, 0, 0];
}
const start = await phase(seconds);
await pool.close();
const sorted = latencies.sort((a, b) => a - b);
const elapsed = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({ requests: { average: accepted / elapsed }, '2xx': accepted, non2xx, errors, latency: { p50: Math.round(percentile(sorted, 0.5) ?? 0), p99: Math.round(percentile(sorted, 0.99) ?? 0) } }) + '\n');
