import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { tarBuffer, tarHeader, tarStream } from './tar-stream.js';

async function drain(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of gen) parts.push(part);
  return Buffer.concat(parts);
}

describe('ustar writer', () => {
  it('writes a header whose checksum is the sum of its bytes with the checksum field as spaces', () => {
    const header = tarHeader('payloads/000001.jsonl', 1234, 1_700_000_000_000);
    expect(header).toHaveLength(512);
    const stored = parseInt(header.subarray(148, 154).toString('ascii'), 8);
    const copy = Buffer.from(header);
    copy.fill(0x20, 148, 156);
    expect(stored).toBe(copy.reduce((sum, b) => sum + b, 0));
    expect(header.subarray(124, 135).toString('ascii')).toBe((1234).toString(8).padStart(11, '0'));
  });

  it('pads every entry to a 512-byte boundary', () => {
    const entry = Buffer.concat([...tarBuffer('a.txt', Buffer.from('hello'), 0)]);
    expect(entry).toHaveLength(1024);
  });

  it.each(['../escape', '/abs', 'a/../b', 'x'.repeat(100), 'sp ace', ''])('refuses the entry name %j', (name) => {
    expect(() => tarHeader(name, 1, 0)).toThrow();
  });

  it('fails the archive when a source yields fewer or more bytes than its header declared', async () => {
    await expect(drain(tarStream('short', 10, Readable.from([Buffer.alloc(9)]), 0))).rejects.toMatchObject({ code: 'SP_ERR_INTERNAL_ERROR' });
    await expect(drain(tarStream('long', 10, Readable.from([Buffer.alloc(11)]), 0))).rejects.toMatchObject({ code: 'SP_ERR_INTERNAL_ERROR' });
    expect(await drain(tarStream('exact', 10, Readable.from([Buffer.alloc(4), Buffer.alloc(6)]), 0))).toHaveLength(1024);
  });
});
