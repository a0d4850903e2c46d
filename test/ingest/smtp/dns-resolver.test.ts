import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DNS_CACHE_LIMITS, cachedResolver, systemLookup, type DnsLookup } from '../../../src/ingest/smtp/dns-resolver.js';
import { startDnsServer, type TestDnsServer } from '../../support/dns-server.js';

const BIG_TXT = 'v=DKIM1; k=rsa; p=' + 'A'.repeat(3_000);

describe('SMTP DNS resolver: bounded cache over a real DNS server on 127.0.0.1', () => {
  let dns: TestDnsServer;
  let lookup: DnsLookup;
  let clock: number;
  const now = (): number => clock;
  // Each test uses names of its own, so the server's per-name counts are the test's alone.
  const fresh = (limits = DEFAULT_DNS_CACHE_LIMITS) => cachedResolver(lookup, limits, now);

  beforeAll(async () => {
    dns = await startDnsServer(
      {
        'TXT vendor.example': { ttl: 600, values: ['v=spf1 ip4:192.0.2.1 -all'] },
        'A short.example': { ttl: 5, values: ['192.0.2.7'] },
        'TXT coalesce.example': { ttl: 600, values: ['v=spf1 -all'] },
        'TXT copy.example': { ttl: 600, values: ['v=spf1 -all'] },
        'TXT a.lru.example': { ttl: 600, values: ['a'] },
        'TXT b.lru.example': { ttl: 600, values: ['b'] },
        'TXT c.lru.example': { ttl: 600, values: ['c'] },
        'TXT big1.example': { ttl: 600, values: [BIG_TXT] },
        'TXT big2.example': { ttl: 600, values: [BIG_TXT] },
        'A mx.nodata.example': { ttl: 600, values: ['192.0.2.9'] },
      },
      ['dead.example'],
    );
    // One try and a short c-ares timeout: the silent server's test waits for one timeout only.
    lookup = systemLookup({ servers: [dns.address], timeoutMs: 300, tries: 1 });
  });
  beforeEach(() => {
    clock = 1_700_000_000_000;
  });
  afterAll(async () => {
    await dns?.close();
  });

  it('answers TXT from the server and serves the next lookup from the cache', async () => {
    const resolve = fresh();
    expect(await resolve('vendor.example', 'TXT')).toEqual([['v=spf1 ip4:192.0.2.1 -all']]);
    expect(await resolve('Vendor.Example.', 'TXT')).toEqual([['v=spf1 ip4:192.0.2.1 -all']]);
    expect(dns.queries('TXT vendor.example')).toBe(1);
  });

  it('keeps an answer for the TTL the answer carries, then asks again', async () => {
    const resolve = fresh();
    expect(await resolve('short.example', 'A')).toEqual(['192.0.2.7']);
    clock += 4_000;
    await resolve('short.example', 'A');
    expect(dns.queries('A short.example')).toBe(1);
    clock += 2_000;
    await resolve('short.example', 'A');
    expect(dns.queries('A short.example')).toBe(2);
  });

  it('caches a domain that does not exist: one query for many messages, ENOTFOUND each time', async () => {
    const resolve = fresh();
    for (let i = 0; i < 5; i++) await expect(resolve('nx.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dns.queries('TXT nx.example')).toBe(1);
    // A name without records of the type asked is "no data", cached the same way.
    await expect(resolve('mx.nodata.example', 'TXT')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolve('mx.nodata.example', 'TXT')).rejects.toMatchObject({ code: 'ENODATA' });
    expect(dns.queries('TXT mx.nodata.example')).toBe(1);
    clock += 301_000;
    await expect(resolve('nx.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dns.queries('TXT nx.example')).toBe(2);
  });

  it('costs one timeout, not one per message, for a sender domain whose servers do not answer', async () => {
    const resolve = fresh();
    await expect(resolve('dead.example', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    await expect(resolve('dead.example', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    await expect(resolve('dead.example', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    expect(dns.queries('TXT dead.example')).toBe(1);
  });

  it('cuts a lookup that never settles at the query timeout, as ETIMEOUT', async () => {
    const never: DnsLookup = () => new Promise(() => {});
    const resolve = cachedResolver(never, { ...DEFAULT_DNS_CACHE_LIMITS, queryTimeoutMs: 50 }, now);
    await expect(resolve('hang.example', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });

  it('answers identical queries in flight with one lookup', async () => {
    const resolve = fresh();
    const answers = await Promise.all(Array.from({ length: 20 }, () => resolve('coalesce.example', 'TXT')));
    expect(answers).toHaveLength(20);
    for (const answer of answers) expect(answer).toEqual([['v=spf1 -all']]);
    expect(dns.queries('TXT coalesce.example')).toBe(1);
  });

  it('hands each caller its own copy of an answer', async () => {
    const resolve = fresh();
    const first = (await resolve('copy.example', 'TXT')) as string[][];
    first[0]![0] = 'v=spf1 +all';
    first.push(['injected']);
    expect(await resolve('copy.example', 'TXT')).toEqual([['v=spf1 -all']]);
  });

  it('stays within its entry bound, dropping the least recently used', async () => {
    const resolve = fresh({ ...DEFAULT_DNS_CACHE_LIMITS, maxEntries: 2 });
    await resolve('a.lru.example', 'TXT');
    await resolve('b.lru.example', 'TXT');
    await resolve('a.lru.example', 'TXT'); // a is now the most recently used
    await resolve('c.lru.example', 'TXT'); // evicts b
    expect(resolve.entries()).toBe(2);
    await resolve('a.lru.example', 'TXT');
    expect(dns.queries('TXT a.lru.example')).toBe(1);
    await resolve('b.lru.example', 'TXT');
    expect(dns.queries('TXT b.lru.example')).toBe(2);
  });

  it('stays within its byte bound, so a few huge answers cannot fill memory', async () => {
    const resolve = fresh({ ...DEFAULT_DNS_CACHE_LIMITS, maxBytes: 5_000 });
    const big = (await resolve('big1.example', 'TXT')) as string[][];
    expect(big[0]!.join('')).toBe(BIG_TXT);
    await resolve('big2.example', 'TXT');
    expect(resolve.entries()).toBe(1);
    await resolve('big1.example', 'TXT');
    expect(dns.queries('TXT big1.example')).toBe(2);
  });
});
