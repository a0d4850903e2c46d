import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** What the server answers for `<TYPE> <name>`: TXT records as their strings, A records as dotted quads. */
export interface DnsRecordSet {
  readonly ttl: number;
  readonly values: readonly string[];
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for `systemLookup({ servers })`. */
  readonly address: string;
  /** How many queries arrived for `<TYPE> <name>` (retries included). */
  queries(key: string): number;
  close(): Promise<void>;
}

const TYPES: Record<number, string> = { 1: 'A', 16: 'TXT', 28: 'AAAA', 15: 'MX' };
const TYPE_CODES: Record<string, number> = { A: 1, TXT: 16 };

/**
 * A tiny authoritative-style DNS server on 127.0.0.1 (RFC 1035 wire format over UDP): answers A and
 * TXT from `records`, NXDOMAIN for any other name, and nothing at all for names in `silent` (a
 * sender domain whose servers are down).
 */
export async function startDnsServer(records: Record<string, DnsRecordSet>, silent: readonly string[] = []): Promise<TestDnsServer> {
  const counts = new Map<string, number>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    const { name, type, questionEnd } = readQuestion(query);
    const key = `${TYPES[type] ?? String(type)} ${name.toLowerCase()}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (silent.includes(name.toLowerCase())) return;
    const set = records[key];
    const nameExists = Object.keys(records).some((k) => k.split(' ')[1] === name.toLowerCase());
    const answers = set ? set.values.map((value) => answerRecord(TYPE_CODES[key.split(' ')[0]!]!, set.ttl, value)) : [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    // QR=1, opcode 0, AA=1, RD copied, RA=1; RCODE 3 (NXDOMAIN) for unknown names, 0 (no data) for a known name without this type.
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (nameExists ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(socket.address() as AddressInfo).port}`,
    queries: (key) => counts.get(key) ?? 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function readQuestion(query: Buffer): { name: string; type: number; questionEnd: number } {
  const labels: string[] = [];
  let offset = 12;
  while (query[offset]! > 0) {
    const length = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += length + 1;
  }
  offset += 1;
  return { name: labels.join('.'), type: query.readUInt16BE(offset), questionEnd: offset + 4 };
}

function answerRecord(type: number, ttl: number, value: string): Buffer {
  const rdata =
    type === 1
      ? Buffer.from(value.split('.').map(Number))
      : Buffer.concat(chunks(value).map((chunk) => Buffer.concat([Buffer.from([chunk.length]), chunk])));
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0); // name: pointer to the question's name
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(1, 4); // class IN
  fixed.writeUInt32BE(ttl, 6);
  fixed.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([fixed, rdata]);
}

/** TXT data as 255-byte character-strings. */
function chunks(value: string): Buffer[] {
  const bytes = Buffer.from(value);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out.length > 0 ? out : [Buffer.alloc(0)];
}
