import { describe, expect, it } from 'vitest';
import { AddressPolicy, checkDestinationHost, guardedLookup, nonPublicReason } from '../../src/delivery/ssrf-guard.js';

const denyAll = AddressPolicy.from(false);

describe('SSRF guard: address check (no network)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['0.0.0.0', 'this network'],
    ['255.255.255.255', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique local'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'cloud metadata'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
  ])('refuses %s (%s)', (address, reason) => {
    const refusal = denyAll.refusal(address);
    expect(refusal).toBeDefined();
    expect(refusal).toContain(reason);
  });

  it.each(['[::1]', '[fe80::1]', '[fd00::1]'])('refuses the bracketed URL form %s', (address) => {
    expect(denyAll.refusal(address)).toBeDefined();
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:93.184.216.34'])('allows the public address %s', (address) => {
    expect(denyAll.refusal(address)).toBeUndefined();
    expect(nonPublicReason(address)).toBeUndefined();
  });

  it('refuses what is not an IP address', () => {
    expect(denyAll.refusal('localhost')).toBe('not an IP address');
  });

  it('allows everything with allowPrivateDestinations=true', () => {
    const all = AddressPolicy.from(true);
    for (const a of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', 'fd00::1']) expect(all.refusal(a)).toBeUndefined();
  });

  it('allows only the listed CIDRs with an allow-list', () => {
    const some = AddressPolicy.from(['10.1.0.0/16', '127.0.0.1', 'fd12::/16']);
    expect(some.refusal('10.1.200.3')).toBeUndefined();
    expect(some.refusal('127.0.0.1')).toBeUndefined();
    expect(some.refusal('::ffff:127.0.0.1')).toBeUndefined();
    expect(some.refusal('fd12::5')).toBeUndefined();
    expect(some.refusal('10.2.0.1')).toContain('private');
    expect(some.refusal('127.0.0.2')).toContain('loopback');
    expect(some.refusal('169.254.169.254')).toContain('cloud metadata');
    expect(some.refusal('fd13::5')).toContain('unique local');
  });

  it('rejects an allow-list entry that is not a CIDR', () => {
    expect(() => AddressPolicy.from(['not-a-cidr'])).toThrow(/not a CIDR/);
  });
});

describe('SSRF guard: names', () => {
  const resolver = (answers: Record<string, string[]>) => async (host: string) => {
    const found = answers[host];
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  };

  it('refuses a name when any of its addresses is refused (mixed answers are a rebinding trick)', async () => {
    const resolve = resolver({ 'mixed.example': ['93.184.216.34', '10.0.0.7'], 'ok.example': ['93.184.216.34'] });
    await expect(checkDestinationHost('mixed.example', denyAll, resolve)).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_ADDRESS_REFUSED' });
    await expect(checkDestinationHost('ok.example', denyAll, resolve)).resolves.toBeUndefined();
  });

  it('checks literal addresses without resolving', async () => {
    const resolve = async (): Promise<string[]> => {
      throw new Error('must not resolve');
    };
    await expect(checkDestinationHost('[::1]', denyAll, resolve)).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_ADDRESS_REFUSED' });
    await expect(checkDestinationHost('93.184.216.34', denyAll, resolve)).resolves.toBeUndefined();
  });

  it('accepts a name that does not resolve yet (the connect-time check still applies)', async () => {
    await expect(checkDestinationHost('nowhere.example', denyAll, resolver({}))).resolves.toBeUndefined();
  });

  it('refuses localhost, which resolves to loopback, with the system resolver', async () => {
    await expect(checkDestinationHost('localhost', denyAll)).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_ADDRESS_REFUSED' });
  });

  it('the connect-time lookup refuses a name whose answer turned private (DNS rebinding)', async () => {
    let answer = '93.184.216.34';
    const lookup = guardedLookup(denyAll, (_host, _opts, cb) => cb(null, [{ address: answer, family: 4 }]));
    const call = (): Promise<unknown> =>
      new Promise((resolve, reject) => lookup('rebind.example', { all: false }, (err, address) => (err ? reject(err) : resolve(address))));
    await expect(call()).resolves.toBe('93.184.216.34');
    answer = '169.254.169.254';
    await expect(call()).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_ADDRESS_REFUSED' });
  });
});
