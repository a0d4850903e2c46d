import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** `total` bytes of a repeating, position-dependent pattern, produced lazily in `chunk`-sized pieces. */
export function patternStream(total: number, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < total; offset += chunk) yield patternBytes(offset, Math.min(chunk, total - offset));
    })(),
  );
}

export function patternBytes(offset: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = ((offset + i) * 31 + ((offset + i) >> 8)) & 0xff;
  return bytes;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A stream that yields `bytes` and then fails, as a client disconnecting mid-upload does. */
export function failingStream(bytes: Buffer, error: Error): Readable {
  return Readable.from(
    (async function* () {
      yield bytes;
      throw error;
    })(),
  );
}
