import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { RequestInit, Response } from 'undici';
import { startSmtp } from '../../../src/app/smtp.js';
import type { Dialect } from '../../../src/db/database.js';
import type { Database } from '../../../src/db/schema.js';
import type { AttachmentRef } from '../../../src/ingest/envelope.js';
import type { IngestHooks } from '../../../src/ingest/payload.service.js';
import type { EmailData } from '../../../src/ingest/smtp/email-data.js';
import { rawMessageBlobKey, rawMessageRefOf } from '../../../src/ingest/smtp/raw-message.js';
import type { DnsResolver } from '../../../src/ingest/smtp/dns-resolver.js';
import type { SmtpLimits, SmtpServerHandle } from '../../../src/ingest/smtp/smtp.server.js';
import type { EncryptedBlobStore } from '../../../src/storage/encrypted-blob-store.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';

export const INBOUND_DOMAIN = 'in.sealpost.test';

/** DNS from a fixed table, as mailauth asks it: TXT answers are arrays of strings (chunks). */
export function fixedResolver(records: Record<string, unknown[]>): DnsResolver {
  return async (name, rrtype) => {
    const answer = records[`${rrtype.toUpperCase()} ${name.toLowerCase()}`];
    if (answer === undefined) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return answer as string[][];
  };
}

/** A TXT record value split into the 255-byte character-strings DNS carries. */
export function txt(value: string): string[][] {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  return [chunks];
}

export interface EnqueueCall {
  readonly tenantId: string;
  readonly payloadId: string;
  readonly type: string;
}

/** An `email.received` envelope as the API returns it. */
export interface EmailEnvelope {
  readonly id: string;
  readonly type: string;
  readonly tenant: string;
  readonly source: { readonly channel: string; readonly remote_ip: string; readonly tls: string; readonly auth: Record<string, string> };
  readonly data: EmailData;
  readonly attachments: readonly AttachmentRef[];
}

export interface SmtpHarness {
  readonly app: TestApp;
  readonly smtp: SmtpServerHandle;
  /** CA for the self-signed certificate both servers present. */
  readonly ca: Buffer;
  readonly enqueued: EnqueueCall[];
  /** An API with the SMTP routes (inboxes, raw messages) mounted. */
  api(pathname: string, init?: RequestInit & { token?: string }): Promise<Response>;
  createInbox(apiKey: string, dmarcPolicy?: 'accept' | 'reject'): Promise<{ id: string; address: string; dmarc_policy: string }>;
  /** The stored envelope of the payload a 250 reply names. */
  envelope(apiKey: string, reply: string): Promise<EmailEnvelope>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly env?: Record<string, string>;
  readonly limits?: Partial<SmtpLimits>;
  readonly resolver?: DnsResolver;
  /** Replaces the blob store the SMTP server writes to (failure injection). */
  readonly blobs?: (real: EncryptedBlobStore) => EncryptedBlobStore;
  /** Replaces the outbox hook (failure injection). */
  readonly enqueue?: IngestHooks['enqueue'];
  /** Clock of the per-IP message rate limit. */
  readonly now?: () => number;
}

/**
 * The test app (the API, SMTP routes included) and the SMTP role on 127.0.0.1 with a free port,
 * over the same composition root.
 */
export async function startSmtpHarness(dialect: Dialect, options: HarnessOptions = {}): Promise<SmtpHarness> {
  const enqueued: EnqueueCall[] = [];
  const app = await startTestApp(dialect, {
    env: { SEALPOST_INBOUND_DOMAIN: INBOUND_DOMAIN, ...options.env },
    overrides: {
      enqueue:
        options.enqueue ??
        (async (_tx, input) => {
          enqueued.push({ tenantId: input.tenantId, payloadId: input.payloadId, type: input.type });
          return 0;
        }),
    },
  });
  let smtp: SmtpServerHandle | undefined;
  try {
    smtp = await startSmtp(app.context, {
      port: 0,
      host: '127.0.0.1',
      name: 'mx.sealpost.test',
      resolver: options.resolver ?? fixedResolver({}),
      ...(options.blobs ? { blobs: options.blobs } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    const ca = readFileSync(path.join(app.context.config.dataDir, 'tls', 'self-signed.crt'));
    const smtpServer = smtp;
    const api = (pathname: string, init: RequestInit & { token?: string } = {}): Promise<Response> => app.fetch(pathname, init);
    return {
      app,
      smtp: smtpServer,
      ca,
      enqueued,
      api,
      async createInbox(apiKey, dmarcPolicy) {
        const res = await api('/v1/inboxes', {
          method: 'POST',
          token: apiKey,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(dmarcPolicy ? { dmarc_policy: dmarcPolicy } : {}),
        });
        if (res.status !== 201) throw new Error(`POST /v1/inboxes answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as { id: string; address: string; dmarc_policy: string };
      },
      async envelope(apiKey, reply) {
        const res = await api(`/v1/payloads/${acceptedId(reply)}`, { token: apiKey });
        if (res.status !== 200) throw new Error(`GET /v1/payloads answered ${res.status}`);
        return ((await res.json()) as { envelope: EmailEnvelope }).envelope;
      },
      async close() {
        await smtpServer.close();
        await app.close();
      },
    };
  } catch (err) {
    await smtp?.close();
    await app.close();
    throw err;
  }
}

/** Builds the exact bytes of a message, so tests can compare what is stored with what was sent. */
export function compose(mail: Mail.Options): Promise<Buffer> {
  return new MailComposer(mail).compile().build();
}

/** Keys of every blob in the local store (temporary files excluded). */
export function blobKeys(app: TestApp): string[] {
  const root = path.join(app.context.config.dataDir, 'blobs');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      if (e.name.startsWith('.')) return [];
      const full = path.join(dir, e.name);
      return e.isDirectory() ? walk(full) : [path.relative(root, full).split(path.sep).join('/')];
    });
  return walk(root).sort();
}

/** Keys that stored payloads account for: their attachments and their raw messages. */
export async function expectedBlobKeys(app: TestApp): Promise<string[]> {
  const db = app.context.database.db as Kysely<Database>;
  const attachments = await db.selectFrom('attachments').select(['blob_key']).execute();
  const payloads = await db.selectFrom('payloads').select(['id', 'tenant_id']).execute();
  const repository = app.context.payloadRepository;
  const raw: string[] = [];
  for (const p of payloads) {
    const found = await repository.find(p.tenant_id, p.id);
    const ref = found ? rawMessageRefOf(JSON.parse(found.canonicalEnvelope.toString('utf8')) as { type: string; data: Record<string, unknown> }) : undefined;
    if (ref) raw.push(rawMessageBlobKey(p.tenant_id, ref.id));
  }
  return [...attachments.map((a) => a.blob_key), ...raw].sort();
}

export async function countRows(app: TestApp, table: 'payloads' | 'attachments'): Promise<number> {
  const result = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(app.context.database.db);
  return Number(result.rows[0]?.n);
}

/** The payload id from our 250 reply (`250 2.6.0 Message accepted as msg_…`). */
export function acceptedId(response: string): string {
  const match = /Message accepted as (msg_[0-9A-Z]{26})/.exec(response);
  if (!match) throw new Error(`not an acceptance: ${response}`);
  return match[1]!;
}

export interface SmtpReply {
  readonly code: number;
  readonly lines: string[];
  /** The whole reply, lines joined with \n. */
  readonly text: string;
}

/**
 * A hand-driven SMTP client for protocol tests: sends exactly what a test says and returns each
 * reply, so refusals can be checked code by code (nodemailer hides those).
 */
export class RawSmtpClient {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private waiting: ((reply: SmtpReply | Error) => void) | undefined;
  private replies: (SmtpReply | Error)[] = [];
  private closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static async connect(port: number): Promise<{ client: RawSmtpClient; greeting: SmtpReply }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawSmtpClient(socket);
    return { client, greeting: await client.read() };
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk.toString('latin1')));
    socket.on('close', () => {
      this.closed = true;
      this.deliver(new Error('connection closed'));
    });
    socket.on('error', () => undefined);
  }

  private pending: string[] = [];

  private onData(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.pending.push(line);
      // A reply ends with the line whose code is not followed by "-" (RFC 5321 §4.2.1).
      if (line.charAt(3) !== '-') {
        const lines = this.pending;
        this.pending = [];
        this.deliver({ code: Number(line.slice(0, 3)), lines, text: lines.join('\n') });
      }
    }
  }

  private deliver(reply: SmtpReply | Error): void {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting(reply);
    } else if (!(reply instanceof Error) || this.replies.length === 0) {
      this.replies.push(reply);
    }
  }

  /** The next reply; rejects if the server closes the connection first. */
  read(): Promise<SmtpReply> {
    const queued = this.replies.shift();
    if (queued) return queued instanceof Error ? Promise.reject(queued) : Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.waiting = (reply) => (reply instanceof Error ? reject(reply) : resolve(reply));
    });
  }

  /** Raw bytes, for tests that stop in the middle of something. */
  write(text: string): void {
    this.socket.write(text, 'latin1');
  }

  async command(line: string): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`, 'latin1');
    return this.read();
  }

  /** STARTTLS and the handshake; resolves with the negotiated protocol. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<string> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) throw new Error(`STARTTLS refused: ${reply.text}`);
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tls.connect({ socket: plain, servername: 'localhost', ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return secure.getProtocol() ?? '';
  }

  /** EHLO and STARTTLS with the given CA, then EHLO again: a session ready for MAIL FROM. */
  static async secure(port: number, ca: Buffer): Promise<RawSmtpClient> {
    const { client } = await RawSmtpClient.connect(port);
    await client.command('EHLO client.sealpost.test');
    await client.startTls({ ca });
    await client.command('EHLO client.sealpost.test');
    return client;
  }

  /** Sends a message body after DATA: line ends made CRLF, leading dots doubled, then the terminator. */
  async data(message: Buffer): Promise<SmtpReply> {
    const go = await this.command('DATA');
    if (go.code !== 354) return go;
    const text = message.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
    const stuffed = text.replace(/(^|\r\n)\./g, '$1..');
    this.socket.write(`${stuffed}${stuffed.endsWith('\r\n') || stuffed.length === 0 ? '' : '\r\n'}.\r\n`, 'latin1');
    return this.read();
  }

  /** One whole transaction; stops at the first refusal and returns it. */
  async send(from: string, to: readonly string[], message: Buffer): Promise<SmtpReply> {
    const mail = await this.command(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) return mail;
    for (const rcpt of to) {
      const reply = await this.command(`RCPT TO:<${rcpt}>`);
      if (reply.code !== 250) {
        await this.command('RSET').catch(() => undefined);
        return reply;
      }
    }
    return this.data(message);
  }

  async quit(): Promise<void> {
    if (this.closed) return;
    await this.command('QUIT').catch(() => undefined);
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
