import type { Readable } from 'node:stream';
import { SealpostError } from '../../errors/sealpost-error.js';

/*
 * The POSIX ustar archive format (IEEE Std 1003.1-2017, pax, "ustar Interchange Format"),
 * written as a stream: each entry is a 512-byte header, its bytes, and zero padding to a 512-byte
 * boundary; two zero blocks end the archive. Every `tar` reads it (GNU tar, bsdtar, Python's
 * tarfile). Only what an export needs: regular files with ASCII names under 100 bytes.
 */

const BLOCK = 512;
/** An 11-digit octal size field holds at most 8 GiB − 1. */
const MAX_ENTRY_BYTES = 8 * 1024 ** 3 - 1;
const END = Buffer.alloc(2 * BLOCK);

function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value, offset, length, 'ascii');
}

function octal(value: number, digits: number): string {
  return `${value.toString(8).padStart(digits, '0')}\0`;
}

/** The 512-byte ustar header of a regular file. */
export function tarHeader(name: string, size: number, mtimeMs: number): Buffer {
  if (!/^[\x21-\x7e]{1,99}$/.test(name) || name.startsWith('/') || name.split('/').includes('..')) {
    throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'tar entry name not allowed', name } });
  }
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_ENTRY_BYTES) {
    throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'tar entry size out of range', size } });
  }
  const header = Buffer.alloc(BLOCK);
  field(header, 0, 100, name);
  field(header, 100, 8, octal(0o600, 7)); // mode: exported data is for its owner only
  field(header, 108, 8, octal(0, 7)); // uid
  field(header, 116, 8, octal(0, 7)); // gid
  field(header, 124, 12, octal(size, 11));
  field(header, 136, 12, octal(Math.floor(mtimeMs / 1000), 11));
  field(header, 148, 8, '        '); // checksum: spaces while it is computed
  field(header, 156, 1, '0'); // regular file
  field(header, 257, 6, 'ustar\0');
  field(header, 263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** One entry from bytes in memory. */
export function* tarBuffer(name: string, body: Buffer, mtimeMs: number): Generator<Buffer> {
  yield tarHeader(name, body.length, mtimeMs);
  if (body.length > 0) yield body;
  yield padding(body.length);
}

/**
 * One entry streamed from `source`, which must yield exactly `size` bytes: the header is written
 * first, so a source that yields more or fewer fails the archive rather than corrupt it silently.
 */
export async function* tarStream(name: string, size: number, source: Readable, mtimeMs: number): AsyncGenerator<Buffer> {
  yield tarHeader(name, size, mtimeMs);
  let written = 0;
  try {
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      written += bytes.length;
      if (written > size) break;
      yield bytes;
    }
  } finally {
    source.destroy();
  }
  if (written !== size) {
    throw new SealpostError('SP_ERR_INTERNAL_ERROR', 'Internal error', { logDetail: { reason: 'tar entry source length differs from its size', name, size, written } });
  }
  yield padding(size);
}

export function tarEnd(): Buffer {
  return END;
}
