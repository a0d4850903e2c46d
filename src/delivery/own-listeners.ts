import os from 'node:os';
import { isIP } from 'node:net';
import { SealpostError } from '../errors/sealpost-error.js';
import type { HostResolver } from './ssrf-guard.js';

/** Addresses a wildcard listener (0.0.0.0, ::) is reachable at besides the interfaces' own. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

function defaultPort(protocol: string): number {
  return protocol === 'http:' ? 80 : 443;
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are the same peer; brackets and zone ids are dropped. */
function normaliseAddress(address: string): string {
  const plain = address.replace(/^\[|\]$/g, '').split('%')[0]?.toLowerCase() ?? '';
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (dotted?.[1]) return dotted[1];
  // The WHATWG URL parser writes IPv4-mapped addresses in hex: [::ffff:7f00:1].
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(plain);
  if (hex?.[1] && hex[2]) {
    const high = parseInt(hex[1], 16);
    const low = parseInt(hex[2], 16);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return plain;
}

function isLoopback(address: string): boolean {
  return address === '::1' || /^127\./.test(address);
}

/** The addresses of this machine's interfaces, for a listener bound to the wildcard address. */
function interfaceAddresses(): Set<string> {
  const found = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const info of list ?? []) found.add(normaliseAddress(info.address));
  }
  return found;
}

/**
 * This deployment's own HTTP listeners, as host:port pairs: the public URL's host and port, and
 * the address and port the API binds. A destination that reaches one of them would feed
 * Sealpost its own forwarded requests (one payload becoming many), so it is refused when saved
 * and again at connect time. "Own" is the exact pair, not all of loopback: a receiver on another
 * loopback port (allowed by SEALPOST_ALLOW_PRIVATE_DESTINATIONS) is not Sealpost.
 */
export class OwnListeners {
  private readonly publicHosts = new Set<string>();
  /** Bound address (normalised) → ports; the wildcard address is kept as ''. */
  private readonly bound = new Map<string, Set<number>>();

  static fromConfig(config: { readonly publicUrl?: string | undefined; readonly httpHost?: string; readonly httpPort?: number }): OwnListeners {
    const own = new OwnListeners();
    if (config.publicUrl !== undefined) own.addPublicUrl(config.publicUrl);
    // Port 0 means "pick one"; the caller adds the chosen port once the server listens.
    if (config.httpHost !== undefined && config.httpPort !== undefined && config.httpPort !== 0) own.addBound(config.httpHost, config.httpPort);
    return own;
  }

  addPublicUrl(publicUrl: string): this {
    const url = new URL(publicUrl);
    this.publicHosts.add(`${url.hostname.toLowerCase()}:${url.port === '' ? defaultPort(url.protocol) : Number(url.port)}`);
    return this;
  }

  /** A listener bound to `host` (an address, `0.0.0.0`/`::` for every interface, or a name) on `port`. */
  addBound(host: string, port: number): this {
    const key = WILDCARD_HOSTS.has(host) ? '' : isIP(host.replace(/^\[|\]$/g, '')) !== 0 ? normaliseAddress(host) : host.toLowerCase();
    const ports = this.bound.get(key) ?? new Set<number>();
    ports.add(port);
    this.bound.set(key, ports);
    // A listener bound to a name (localhost) is reachable at what that name meant when it was bound.
    if (key === 'localhost') {
      this.addBound('127.0.0.1', port);
      this.addBound('::1', port);
    }
    return this;
  }

  /** The URL's host and port are the public URL's (`https://api.example.com` = port 443). */
  isPublicHost(hostname: string, port: number): boolean {
    return this.publicHosts.has(`${hostname.replace(/^\[|\]$/g, '').toLowerCase()}:${port}`);
  }

  /** A connection to `address:port` would reach one of this deployment's listeners. */
  isOwnAddress(address: string, port: number): boolean {
    const plain = normaliseAddress(address);
    if (this.bound.get(plain)?.has(port)) return true;
    const wildcard = this.bound.get('');
    if (!wildcard?.has(port)) return false;
    return isLoopback(plain) || plain === '0.0.0.0' || plain === '::' || interfaceAddresses().has(plain);
  }
}

export function ownListenerRefused(host: string): SealpostError {
  return new SealpostError('SP_ERR_DESTINATION_LOOP_REFUSED', "Destination points at this Sealpost deployment's own API", { logDetail: { host } });
}

export function isOwnListenerRefused(error: unknown): boolean {
  return error instanceof SealpostError && error.code === 'SP_ERR_DESTINATION_LOOP_REFUSED';
}

/**
 * Checks a destination URL when it is saved: its host:port is not the public URL's, and its host
 * (a literal address, or every address the name resolves to now) with its port is not one of the
 * bound listeners. A name that does not resolve is left to the connect-time check.
 */
export async function checkNotOwnListener(url: URL, own: OwnListeners, resolve: HostResolver): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
  if (own.isPublicHost(host, port)) throw ownListenerRefused(host);
  let addresses: readonly string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      return;
    }
  }
  if (addresses.some((address) => own.isOwnAddress(address, port))) throw ownListenerRefused(host);
}
