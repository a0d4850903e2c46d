// A loopback destination that counts what arrives and how long after ingest it arrived.
// GET /reset?from=<epoch ms> starts over, counting only payloads received by Sealpost from then on.
import http from 'node:http';
import { percentile } from '../support/percentile.js';

let count = 0;
let first = 0;
let last = 0;
let from = 0;
const latencies: number[] = [];
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    const sorted = [...latencies].sort((a, b) => a - b);
    res.end(JSON.stringify({ count, first, last, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }));
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (url.pathname === '/reset') {
      from = Number(url.searchParams.get('from') ?? 0);
      count = 0;
      first = 0;
      last = 0;
      latencies.length = 0;
    }
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    let receivedAt = NaN;
    try {
      receivedAt = Date.parse((JSON.parse(Buffer.concat(chunks).toString()) as { received_at: string }).received_at);
    } catch {
      // not an envelope; counted anyway
    }
    res.writeHead(204).end();
    if (receivedAt < from) return; // sent before the measurement began
    count++;
    if (!first) first = now;
    last = now;
    if (Number.isFinite(receivedAt)) latencies.push(now - receivedAt);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as { port: number }).port}\n`));
