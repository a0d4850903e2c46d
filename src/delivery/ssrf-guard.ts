import dns, { type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { SealpostError } from '../errors/sealpost-error.js';
import { withTimeout } from '../util/timeout.js';

/** `config.allowPrivateDestinations`: `true` allows every address, a list allows those CIDRs. */
export type PrivateDestinationAllowance = boolean | readonly string[];

type Family = 'ipv4' | 'ipv6';

/**
 * Addresses a destination may never reach (unless an operator allows them): everything that is
 * not the public internet. Ordered so the most specific reason is reported first.
 */
const REFUSED_V4: readonly (readonly [string, string])[] = [
  ['169.254.169.254/32', 'cloud metadata'],
  ['0.0.0.0/8', 'this network (RFC 1122)'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  // Includes 255.255.255.255, the limited broadcast address.
  ['240.0.0.0/4', 'reserved'],
];

const REFUSED_V6: readonly (readonly [string, string])[] = [
  ['fd00:ec2::254/128', 'cloud metadata'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard (RFC 6666)'],
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'unique local (RFC 4193)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  // Local-use NAT64 (RFC 8215): the IPv4 address may sit anywhere in it, so all of it is refused.
  ['64:ff9b:1::/48', 'local NAT64'],
];

function blockList(cidr: string, family: Family): BlockList {
  const [network, prefix] = cidr.split('/');
  const list = new BlockList();
  list.addSubnet(network ?? '', Number(prefix ?? (family === 'ipv4' ? 32 : 128)), family);
  return list;
}

const REFUSED: readonly { family: Family; list: BlockList; reason: string }[] = [
  ...REFUSED_V4.map(([cidr, reason]) => ({ family: 'ipv4' as const, list: blockList(cidr, 'ipv4'), reason })),
  ...REFUSED_V6.map(([cidr, reason]) => ({ family: 'ipv6' as const, list: blockList(cidr, 'ipv6'), reason })),
];

/** The 16 bytes of an IPv6 address (dotted IPv4 tail allowed), or undefined when it is not one. */
function ipv6Bytes(address: string): Buffer | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.split('%')[0] ?? '';
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${(((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)}:${(((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that the network would reach:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated), NAT64 (64:ff9b::/96,
 * RFC 6052) and 6to4 (2002::/16, RFC 3056).
 */
function embeddedIpv4(address: string): string | undefined {
  const b = ipv6Bytes(address);
  if (!b) return undefined;
  const zeros = (from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);
  const v4 = (at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] === 1)) return v4(12);
  if (b.readUInt32BE(0) === 0x0064ff9b && zeros(4, 12)) return v4(12);
  if (b.readUInt16BE(0) === 0x2002) return v4(2);
  return undefined;
}

/** Why an address is not on the public internet, or undefined when it is. Pure: no network. */
export function nonPublicReason(address: string): string | undefined {
  const version = isIP(address);
  if (version === 0) return 'not an IP address';
  const family: Family = version === 4 ? 'ipv4' : 'ipv6';
  const match = REFUSED.find((r) => r.family === family && r.list.check(address, family));
  if (match) return match.reason;
  const embedded = family === 'ipv6' ? embeddedIpv4(address) : undefined;
  const inner = embedded === undefined ? undefined : nonPublicReason(embedded);
  return inner === undefined ? undefined : `${inner} (IPv4 embedded in IPv6)`;
}

/** Which destination addresses may be connected to: the public internet, plus what the operator allows. */
export class AddressPolicy {
  private constructor(
    private readonly allowAll: boolean,
    private readonly allowed: BlockList,
  ) {}

  static from(allowance: PrivateDestinationAllowance): AddressPolicy {
    const allowed = new BlockList();
    if (Array.isArray(allowance)) {
      for (const entry of allowance as readonly string[]) {
        const [network = '', prefix] = entry.trim().split('/');
        const family: Family = isIP(network) === 6 ? 'ipv6' : 'ipv4';
        if (isIP(network) === 0) throw new TypeError(`not a CIDR: ${entry}`);
        allowed.addSubnet(network, prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix), family);
      }
    }
    return new AddressPolicy(allowance === true, allowed);
  }

  /** Why a connection to this address is refused, or undefined when it is allowed. */
  refusal(address: string): string | undefined {
    const plain = address.replace(/^\[|\]$/g, '');
    if (this.allowAll) return undefined;
    const reason = nonPublicReason(plain);
    if (reason === undefined) return undefined;
    const version = isIP(plain);
    if (version === 0) return reason;
    if (this.allowed.check(plain, version === 4 ? 'ipv4' : 'ipv6')) return undefined;
    const embedded = version === 6 ? embeddedIpv4(plain) : undefined;
    if (embedded !== undefined && this.allowed.check(embedded, 'ipv4')) return undefined;
    return reason;
  }
}

/** Thrown (also from inside a socket's DNS lookup) when a destination address is refused. */
export function addressRefused(host: string, address: string, reason: string): SealpostError {
  return new SealpostError('SP_ERR_DESTINATION_ADDRESS_REFUSED', `Destination resolves to a non-public address (${reason})`, {
    logDetail: { host, address, reason },
  });
}

export function isAddressRefused(error: unknown): boolean {
  return error instanceof SealpostError && error.code === 'SP_ERR_DESTINATION_ADDRESS_REFUSED';
}

export type DnsLookupAll = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A `lookup` for net/tls `connect` that resolves the name and refuses it when ANY address is
 * refused, so the socket only ever connects to an address that was checked: a DNS answer that
 * changes between validation and connection (rebinding) is checked again here.
 */
export function guardedLookup(policy: AddressPolicy, resolveAll: DnsLookupAll = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolveAll(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const reason = policy.refusal(a.address);
        if (reason !== undefined) return callback(addressRefused(hostname, a.address, reason) as NodeJS.ErrnoException, '', 0);
      }
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (options.all) return callback(null, addresses);
      return callback(null, first.address, first.family);
    });
  };
}

/** A name's addresses, for validation when a destination is saved. */
export type HostResolver = (hostname: string) => Promise<readonly string[]>;

/** How long saving a destination waits for DNS; on timeout the connect-time check still applies. */
const VALIDATION_DNS_TIMEOUT_MS = 3_000;

export const systemResolver: HostResolver = async (hostname) => {
  const found = await withTimeout(dns.promises.lookup(hostname, { all: true, verbatim: true }), VALIDATION_DNS_TIMEOUT_MS, () => {
    throw new Error('DNS timeout');
  });
  return found.map((a) => a.address);
};

/**
 * Checks a destination host when it is saved: a literal IP is checked directly, a name is
 * resolved and every address checked. A name that does not resolve (yet) is accepted; the
 * connect-time check refuses it later if it resolves to a refused address.
 */
export async function checkDestinationHost(hostname: string, policy: AddressPolicy, resolve: HostResolver = systemResolver): Promise<void> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    const reason = policy.refusal(host);
    if (reason !== undefined) throw addressRefused(host, host, reason);
    return;
  }
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch {
    return;
  }
  for (const address of addresses) {
    const reason = policy.refusal(address);
    if (reason !== undefined) throw addressRefused(host, address, reason);
  }
}
