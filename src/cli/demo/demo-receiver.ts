import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** A request as the receiver got it: the raw body, which is what signatures are checked over. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface DemoReceiver {
  readonly url: string;
  readonly received: readonly ReceivedRequest[];
  close(): Promise<void>;
}

/** Bodies larger than this are not what the demo sends; the receiver answers 413 instead of buffering them. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The demo's stand-in for a customer's endpoint: an HTTPS server on 127.0.0.1 (with the demo's
 * self-signed localhost certificate) that keeps every request and answers 200.
 */
export async function startDemoReceiver(tls: { cert: string; key: string }): Promise<DemoReceiver> {
  const received: ReceivedRequest[] = [];
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : (value ?? '')]));
      received.push({ method: req.method ?? '', path: req.url ?? '', headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('received\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${port}/hooks/sealpost`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
