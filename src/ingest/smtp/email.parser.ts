import { pipeline, type Readable } from 'node:stream';
import { MailParser, type AddressObject, type AttachmentStream, type EmailAddress, type HeaderValue, type MessageText } from 'mailparser';
import { safeContentType } from '../content-type.js';

/** More MIME parts than this is not a document; it is an attempt to exhaust us (also mailsplit's default). */
export const MAX_MIME_PARTS = 1_000;
/** Header block of one part. Real mail stays under a few tens of KB even with long Received chains. */
const MAX_HEADER_BYTES = 256 * 1024;
/** HTML longer than this is not converted to text (html-to-text is CPU-heavy); `html` is still kept. */
const MAX_HTML_TO_TEXT_CHARS = 2 * 1024 * 1024;
/** Filenames beyond this are cut: file systems and Content-Disposition headers stop at 255. */
const MAX_FILENAME_LENGTH = 255;
/**
 * Attachments whose bytes are all read may finish storing (fsync, rename) while the parser moves
 * on; this many at most, so a message of many small parts neither waits for one fsync per part
 * nor holds hundreds of open files.
 */
const MAX_STORES_FINISHING = 8;

const PARSER_OPTIONS = {
  // Forwarded mail stays one attachment (`message/rfc822`) instead of being merged into this one's text.
  ignoreEmbedded: true,
  // SHA-256 is computed where the attachment is stored; mailparser's MD5 would be wasted work.
  checksumAlgo: false,
  // Only what a receiver needs: no generated `textAsHtml`, no link detection.
  skipTextToHtml: true,
  skipTextLinks: true,
  maxHtmlLengthToParse: MAX_HTML_TO_TEXT_CHARS,
  maxChildNodes: MAX_MIME_PARTS,
  maxHeadSize: MAX_HEADER_BYTES,
} as const;

/** The message itself is unreadable (structure beyond the limits, broken encoding streams); retrying will not help. */
export class MimeParseError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : 'message could not be parsed', { cause });
    this.name = 'MimeParseError';
  }
}

export interface AttachmentPart {
  readonly content: Readable;
  readonly filename: string;
  readonly contentType: string;
  readonly disposition: 'inline' | 'attachment';
  /** Content-ID without angle brackets, for `cid:` links in the HTML; null without one. */
  readonly contentId: string | null;
}

export interface EmailAddressView {
  readonly name: string;
  readonly address: string;
}

/** The parsed fields of a message, in the shape of the envelope's `data` (snake_case on the wire). */
export interface ParsedEmail {
  readonly from: EmailAddressView | null;
  readonly to: EmailAddressView[];
  readonly cc: EmailAddressView[];
  readonly replyTo: EmailAddressView[];
  readonly subject: string | null;
  /** ISO 8601, or null when the Date header is missing or unreadable. */
  readonly date: string | null;
  readonly messageId: string | null;
  readonly inReplyTo: string | null;
  readonly references: string[];
  readonly text: string | null;
  readonly html: string | null;
  /** Which of `text`/`html` were cut at the limit (the raw message keeps everything). */
  readonly truncated: string[];
  /** Every header of the top-level part, in order, unfolded; values are not MIME-decoded. */
  readonly headers: { name: string; value: string }[];
}

export interface ParseOptions {
  /** Longest `text` and `html` kept in the envelope, in characters. */
  readonly maxTextChars: number;
  /**
   * Called for each attachment in message order; must consume `content`. The parser waits until
   * the content is read (and, past a few stores still finishing, until one completes), so a slow
   * store slows the SMTP client down instead of filling memory.
   */
  storeAttachment(part: AttachmentPart): Promise<void>;
}

/**
 * Streams a message through mailparser. Attachments (inline ones and forwarded messages included)
 * go to `storeAttachment` as they arrive; text bodies are held only up to the message size limit.
 * Rejects with a MimeParseError on malformed structure beyond the parser's limits, or with the
 * store's error when storing fails; in both cases only once every attachment already handed out
 * has settled, so the caller knows every blob to remove.
 */
export function parseEmail(source: Readable, options: ParseOptions): Promise<ParsedEmail> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser(PARSER_OPTIONS);
    const inFlight = new Set<Readable>();
    const stored: Promise<void>[] = [];
    let failure: unknown;
    let body: MessageText | undefined;
    // Stores started and not yet settled, and parser releases waiting for one of them to settle.
    let unsettled = 0;
    const waitingForSlot: (() => void)[] = [];

    const fail = (err: unknown): void => {
      if (failure !== undefined) return;
      failure = err ?? new Error('parse failed');
      // An attachment stream cut off mid-way would never end and its store would wait for ever.
      for (const content of inFlight) content.destroy(failure as Error);
      parser.destroy(failure as Error);
    };

    parser.on('data', (item: AttachmentStream | MessageText) => {
      if (item.type === 'text') {
        body = item;
        return;
      }
      inFlight.add(item.content);
      // fail() destroys in-flight contents with its cause, possibly before their store has
      // attached (putEncrypted first awaits a data key): without a listener that 'error' would be
      // an uncaught exception. The cause is kept in `failure`; the store sees a destroyed stream.
      item.content.on('error', ignoreContentError);
      unsettled += 1;
      let released = false;
      const release = (): void => {
        if (released || failure !== undefined) return;
        released = true;
        item.release?.();
      };
      // Read to the end: the parser may go on while this store finishes, if a slot is free.
      item.content.once('end', () => {
        if (unsettled <= MAX_STORES_FINISHING) release();
        else waitingForSlot.push(release);
      });
      let part: AttachmentPart;
      try {
        part = describeAttachment(item);
      } catch (err) {
        // Thrown from here it would vanish inside mailparser and the parse would never end.
        fail(err);
        return;
      }
      stored.push(
        options.storeAttachment(part).then(
          () => {
            inFlight.delete(item.content);
            unsettled -= 1;
            release();
            waitingForSlot.shift()?.();
          },
          (err: unknown) => {
            inFlight.delete(item.content);
            unsettled -= 1;
            fail(err);
          },
        ),
      );
    });

    pipeline(source, parser, (err) => {
      if (err) fail(new MimeParseError(err));
      void Promise.all(stored).then(() => {
        if (failure !== undefined) reject(failure);
        else resolve(describeMessage(parser, body, options.maxTextChars));
      });
    });
  });
}

function ignoreContentError(): void {}

function describeAttachment(item: AttachmentStream): AttachmentPart {
  const contentType = safeContentType(item.contentType).toLowerCase();
  const fallback = contentType === 'message/rfc822' ? 'message.eml' : 'attachment';
  return {
    content: item.content,
    filename: safeFilename(item.filename || fallback),
    contentType,
    disposition: item.contentDisposition === 'inline' ? 'inline' : 'attachment',
    contentId: item.cid || null,
  };
}

/** Control characters and path separators have no place in a name a receiver may save under. */
function safeFilename(name: string): string {
  let out = '';
  for (const char of name.slice(0, MAX_FILENAME_LENGTH)) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || code === 0x7f || char === '/' || char === '\\' ? '_' : char;
  }
  return out;
}

function describeMessage(parser: MailParser, body: MessageText | undefined, maxTextChars: number): ParsedEmail {
  const headers = parser.headers || new Map<string, HeaderValue>();
  const truncated: string[] = [];
  const cut = (field: string, value: string | false | undefined): string | null => {
    if (typeof value !== 'string') return null;
    if (value.length <= maxTextChars) return value;
    truncated.push(field);
    return value.slice(0, maxTextChars);
  };
  const headerList = (parser.headerLines || []).map(({ line }) => {
    // Header bytes come as latin1 strings; 8-bit headers are UTF-8 in practice (RFC 6532).
    const text = Buffer.from(line, 'binary').toString('utf8');
    const colon = text.indexOf(':');
    const name = colon < 0 ? text.trim() : text.slice(0, colon).trim();
    const value = colon < 0 ? '' : text.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').trim();
    return { name, value };
  });
  const dateHeader = headerList.find((h) => h.name.toLowerCase() === 'date')?.value;
  const date = dateHeader ? Date.parse(dateHeader) : NaN;
  const from = addresses(headers.get('from'));
  return {
    from: from[0] ?? null,
    to: addresses(headers.get('to')),
    cc: addresses(headers.get('cc')),
    replyTo: addresses(headers.get('reply-to')),
    subject: stringOf(headers.get('subject')),
    date: Number.isNaN(date) ? null : new Date(date).toISOString(),
    messageId: stringOf(headers.get('message-id')),
    inReplyTo: stringOf(headers.get('in-reply-to')),
    references: [headers.get('references') ?? []].flat().filter((r): r is string => typeof r === 'string'),
    text: cut('text', body?.text),
    html: cut('html', body?.html),
    truncated,
    headers: headerList,
  };
}

function stringOf(value: HeaderValue | undefined): string | null {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first.length > 0 ? first : null;
}

/** Address headers flattened (groups included) to `{name, address}`; entries without an address are dropped. */
function addresses(value: HeaderValue | undefined): EmailAddressView[] {
  if (value === undefined || typeof value !== 'object' || value instanceof Date) return [];
  const objects = (Array.isArray(value) ? value : [value]) as AddressObject[];
  const out: EmailAddressView[] = [];
  const walk = (list: EmailAddress[] | undefined): void => {
    for (const entry of list ?? []) {
      if (entry.group) walk(entry.group);
      else if (entry.address) out.push({ name: entry.name ?? '', address: entry.address });
    }
  };
  for (const object of objects) walk(object?.value);
  return out;
}
