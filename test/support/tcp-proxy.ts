import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a server (PostgreSQL), to stage its outages without
 * touching the server the rest of the suite shares: `freeze()` stops forwarding in both
 * directions and holds new connections open unanswered (what a SIGSTOPped server looks like),
 * `cut()` refuses new connections and resets open ones (a stopped server), `restore()` ends either.
 */
export interface TcpProxy {
  readonly port: number;
  freeze(): void;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  type Pair = { client: net.Socket; upstream: net.Socket; piped: boolean };
  const connect = (pair: Pair): void => {
    pair.piped = true;
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };
  const hold = (pair: Pair): void => {
    pair.piped = false;
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
  };
  const pairs = new Set<Pair>();
  let state: 'open' | 'frozen' | 'cut' = 'open';

  const server = net.createServer((client) => {
    if (state === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    const pair: Pair = { client, upstream, piped: false };
    pairs.add(pair);
    // A frozen server accepts the TCP connection (the kernel does) but says nothing.
    if (state === 'frozen') hold(pair);
    else connect(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    freeze() {
      state = 'frozen';
      for (const pair of pairs) hold(pair);
    },
    cut() {
      state = 'cut';
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
    },
    restore() {
      state = 'open';
      for (const pair of pairs) if (!pair.piped) connect(pair);
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
