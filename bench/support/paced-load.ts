// An open-loop load generator: requests leave at evenly spaced times, whatever the answers do.
// autocannon's -R sends each second's quota back to back and then waits for the next second, so
// "half the maximum rate" arrived as bursts at full speed and latency measured the queue behind
// each burst. Run as its own process (like autocannon); prints one JSON line like autocannon -j.
// Usage: tsx paced-load.ts URL RATE SECONDS CONNECTIONS (body on stdin, headers in BENCH_HEADERS)
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
const latencies: number[] = [];
let accepted = 0;
let non2xx = 0;
let errors = 0;
const pending = new Set<Promise<void>>();

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

const total = Math.round(rate * seconds);
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
await pool.close();
const sorted = latencies.sort((a, b) => a - b);
const elapsed = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({ requests: { average: accepted / elapsed }, '2xx': accepted, non2xx, errors, latency: { p50: Math.round(percentile(sorted, 0.5) ?? 0), p99: Math.round(percentile(sorted, 0.99) ?? 0) } }) + '\n');
