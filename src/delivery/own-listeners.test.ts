import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkNotOwnListener, OwnListeners } from './own-listeners.js';

describe('OwnListeners', () => {
  it('matches the public URL by host and effective port, case-insensitively', () => {
    const own = OwnListeners.fromConfig({ publicUrl: 'https://API.sealpost.example' });
    expect(own.isPublicHost('api.sealpost.example', 443)).toBe(true);
    expect(own.isPublicHost('api.sealpost.example', 8443)).toBe(false);
    expect(own.isPublicHost('hooks.example.com', 443)).toBe(false);
  });

  it('matches a bound address only on its port, IPv4-mapped IPv6 included', () => {
    const own = new OwnListeners().addBound('127.0.0.1', 8443);
    expect(own.isOwnAddress('127.0.0.1', 8443)).toBe(true);
    expect(own.isOwnAddress('::ffff:127.0.0.1', 8443)).toBe(true);
    expect(own.isOwnAddress('::ffff:7f00:1', 8443)).toBe(true);
    // Another loopback receiver (tests, on-premise) is not Sealpost.
    expect(own.isOwnAddress('127.0.0.1', 9000)).toBe(false);
    expect(own.isOwnAddress('127.0.0.2', 8443)).toBe(false);
  });

  it('treats every local address as own for a wildcard listener', () => {
    const own = OwnListeners.fromConfig({ httpHost: '0.0.0.0', httpPort: 8443 });
    const local = Object.values(os.networkInterfaces()).flat().find((i) => i && !i.internal)?.address;
    for (const address of ['127.0.0.1', '127.0.0.53', '::1', '0.0.0.0', ...(local ? [local] : [])]) expect(own.isOwnAddress(address, 8443), address).toBe(true);
    expect(own.isOwnAddress('93.184.216.34', 8443)).toBe(false);
    expect(own.isOwnAddress('127.0.0.1', 8444)).toBe(false);
  });

  it('checks a saved URL by its literal address or every address its name resolves to', async () => {
    const own = new OwnListeners().addPublicUrl('https://api.sealpost.example').addBound('10.0.0.5', 8443);
    const resolver = async (host: string) => (host === 'alias.example.com' ? ['93.184.216.34', '10.0.0.5'] : ['93.184.216.34']);
    await expect(checkNotOwnListener(new URL('https://api.sealpost.example/v1/payloads'), own, resolver)).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_LOOP_REFUSED' });
    await expect(checkNotOwnListener(new URL('https://10.0.0.5:8443/'), own, resolver)).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_LOOP_REFUSED' });
    await expect(checkNotOwnListener(new URL('https://alias.example.com:8443/'), own, resolver)).rejects.toMatchObject({ code: 'SP_ERR_DESTINATION_LOOP_REFUSED' });
    await expect(checkNotOwnListener(new URL('https://alias.example.com/'), own, resolver)).resolves.toBeUndefined();
    await expect(checkNotOwnListener(new URL('https://hooks.example.com:8443/'), own, resolver)).resolves.toBeUndefined();
  });
});
