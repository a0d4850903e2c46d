import { promises as dns } from 'node:dns';
import type { DNSResolver } from 'mailauth';
import { withTimeout } from '../../util/timeout.js';

/** `(name, rrtype) => records`, as mailauth asks it; errors carry `ENOTFOUND`/`ENODATA` (no such record) or another code (temporary). */
export type DnsResolver = DNSResolver;

/** One answer of an upstream resolver, with its TTL where the upstream reports one. */
export interface DnsAnswer {
  readonly records: unknown[];
  readonly ttlSeconds?: number;
}

export type DnsLookup = (name: string, rrtype: string) => Promise<DnsAnswer>;

/** SPF may chain ten lookups (RFC 7208 §4.6.4): one slow server must not hold the SMTP reply for minutes. */
export const DNS_QUERY_TIMEOUT_MS = 3_000;
const DNS_TRIES = 2;

export interface DnsCacheLimits {
  /** Entries kept (least recently used go first): every sender can make us look up names of its choosing. */
  readonly maxEntries: number;
  /** Bytes of names and records kept, so a few huge TXT answers cannot stand in for many entries. */
  readonly maxBytes: number;
  /** Longest a lookup may take, retries included; then it fails as ETIMEOUT (SPF's temperror). */
  readonly queryTimeoutMs: number;
}

export const DEFAULT_DNS_CACHE_LIMITS: DnsCacheLimits = { maxEntries: 10_000, maxBytes: 8 * 1024 * 1024, queryTimeoutMs: DNS_QUERY_TIMEOUT_MS };

/** A cached answer lives at most this long whatever its TTL: a poisoned or stale record does not outstay an hour. */
const MAX_TTL_SECONDS = 3_600;
/**
 * For answers whose TTL Node's resolver does not report (it gives TTLs for A and AAAA only): five
 * minutes, the TTL most TXT records carry and short enough for an SPF or DKIM key change.
 */
const UNKNOWN_TTL_SECONDS = 300;
/** NXDOMAIN / no data (RFC 2308 §5 caps it by the zone's SOA minimum, which Node does not report; 5 minutes is the common value). */
const NEGATIVE_TTL_SECONDS = 300;
/** Timeouts and server failures (RFC 2308 §7.1 allows up to 5 minutes): long enough that a dead sender domain costs one timeout, not one per message. */
const FAILURE_TTL_SECONDS = 30;
/** Larger answers are passed on but not kept (a TXT answer over UDP or TCP tops out at 64 KB). */
const MAX_ENTRY_BYTES = 64 * 1024;
/** What an entry costs beyond its strings (map slot, objects), for the byte bound. */
const ENTRY_OVERHEAD_BYTES = 128;

const NO_RECORD_CODES = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * The system's DNS servers (or `servers`, `host:port`) through Node's c-ares resolver, with
 * bounded timeouts (Node's defaults retry for up to ~20 s per query). A and AAAA answers carry
 * their TTL.
 */
export function systemLookup(options: { servers?: string[]; timeoutMs?: number; tries?: number } = {}): DnsLookup {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? DNS_QUERY_TIMEOUT_MS, tries: options.tries ?? DNS_TRIES });
  if (options.servers) resolver.setServers(options.servers);
  return async (name, rrtype) => {
    const type = rrtype.toUpperCase();
    if (type === 'A' || type === 'AAAA') {
      const answers = type === 'A' ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
      return { records: answers.map((a) => a.address), ttlSeconds: Math.min(...answers.map((a) => a.ttl)) };
    }
    return { records: (await resolver.resolve(name, type)) as unknown[] };
  };
}

/** A resolver that reports no TTLs (tests, the benchmark's hermetic DNS) as an upstream of the cache. */
export function lookupOf(resolver: DnsResolver): DnsLookup {
  return async (name, rrtype) => ({ records: await resolver(name, rrtype) });
}

interface Entry {
  readonly expiresAt: number;
  readonly bytes: number;
  readonly records?: unknown[];
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * mailauth's resolver over `lookup`, with a bounded LRU cache: answers for their TTL (capped),
 * NXDOMAIN/no-data and failures (timeouts included) for a short while, identical queries in
 * flight answered by one lookup, and every lookup cut at `queryTimeoutMs`. A sender domain whose
 * servers do not answer costs one timeout per FAILURE_TTL_SECONDS, not one per message.
 */
export function cachedResolver(lookup: DnsLookup, limits: DnsCacheLimits = DEFAULT_DNS_CACHE_LIMITS, now: () => number = Date.now): DnsResolver & { readonly entries: () => number } {
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Entry>>();
  let bytes = 0;

  const remove = (key: string): void => {
    const entry = cache.get(key);
    if (!entry) return;
    cache.delete(key);
    bytes -= entry.bytes;
  };
  const store = (key: string, entry: Entry): void => {
    remove(key);
    if (entry.expiresAt <= now() || entry.bytes > MAX_ENTRY_BYTES) return;
    cache.set(key, entry);
    bytes += entry.bytes;
    // Map iterates in insertion order and hits re-insert: the first key is the least recently used.
    for (const oldest of cache.keys()) {
      if (cache.size <= limits.maxEntries && bytes <= limits.maxBytes) break;
      remove(oldest);
    }
  };
  const fetch = async (key: string, name: string, rrtype: string): Promise<Entry> => {
    const timedOut = (): DnsAnswer => {
      throw Object.assign(new Error(`query ${rrtype} ETIMEOUT ${name}`), { code: 'ETIMEOUT' });
    };
    try {
      const answer = await withTimeout(lookup(name, rrtype), limits.queryTimeoutMs, timedOut);
      const ttl = Math.min(answer.ttlSeconds ?? UNKNOWN_TTL_SECONDS, MAX_TTL_SECONDS);
      return { expiresAt: now() + Math.max(0, ttl) * 1000, bytes: key.length + sizeOf(answer.records) + ENTRY_OVERHEAD_BYTES, records: answer.records };
    } catch (err) {
      const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ESERVFAIL';
      const ttl = NO_RECORD_CODES.has(code) ? NEGATIVE_TTL_SECONDS : FAILURE_TTL_SECONDS;
      const message = `query ${rrtype} ${code} ${name}`;
      return { expiresAt: now() + ttl * 1000, bytes: key.length + message.length + ENTRY_OVERHEAD_BYTES, error: { code, message } };
    }
  };
  const answer = (entry: Entry): string[][] | string[] => {
    if (entry.error) throw Object.assign(new Error(entry.error.message), { code: entry.error.code });
    // A copy: a caller that sorts or edits its answer must not change what the next one gets.
    return structuredClone(entry.records) as string[][] | string[];
  };

  const resolve = async (name: string, rrtype: string): Promise<string[][] | string[]> => {
    const key = `${rrtype.toUpperCase()} ${name.toLowerCase().replace(/\.$/, '')}`;
    const cached = cache.get(key);
    if (cached && cached.expiresAt > now()) {
      cache.delete(key);
      cache.set(key, cached);
      return answer(cached);
    }
    let pending = inFlight.get(key);
    if (!pending) {
      pending = fetch(key, name, rrtype).then((entry) => {
        inFlight.delete(key);
        store(key, entry);
        return entry;
      });
      inFlight.set(key, pending);
    }
    return answer(await pending);
  };
  return Object.assign(resolve, { entries: () => cache.size });
}

/** Bytes of the strings in an answer (TXT chunks, addresses, MX exchanges), for the cache's byte bound. */
function sizeOf(records: unknown): number {
  if (typeof records === 'string') return records.length;
  if (Array.isArray(records)) return records.reduce((n: number, r) => n + sizeOf(r) + 8, 0);
  if (records && typeof records === 'object') return Object.values(records).reduce((n: number, v) => n + sizeOf(v) + 8, 0);
  return 8;
}
