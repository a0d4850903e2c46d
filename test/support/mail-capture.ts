import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { ensureSelfSignedCert } from '../../src/crypto/self-signed-cert.js';
import { until } from './poll.js';

export interface CapturedMail {
  readonly to: string[];
  readonly raw: string;
}

export interface MailCapture {
  /** SEALPOST_OUTBOUND_SMTP_URL for the app. */
  readonly url: string;
  /** SealpostOverrides.outboundMailTls: trust this server's self-signed localhost certificate. */
  readonly tls: { ca: string; servername: string };
  readonly messages: CapturedMail[];
  /** Waits for a message to `to` and returns it. */
  waitFor(to: string): Promise<CapturedMail>;
  close(): Promise<void>;
}

/** An SMTP server on 127.0.0.1 (STARTTLS with a self-signed localhost certificate) that keeps what it receives. */
export async function startMailCapture(): Promise<MailCapture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sealpost-mail-'));
  const cert = await ensureSelfSignedCert(dir);
  const messages: CapturedMail[] = [];
  const server = new SMTPServer({
    key: cert.key,
    cert: cert.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    tls: { ca: cert.cert, servername: 'localhost' },
    messages,
    async waitFor(to) {
      const addressedTo = (m: CapturedMail): boolean => m.to.some((a) => a.toLowerCase() === to.toLowerCase());
      await until(() => messages.some(addressedTo), { explain: () => `no mail to ${to}; got ${messages.length}` });
      return messages.find(addressedTo)!;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The first link in a captured message (quoted-printable soft breaks undone). */
export function linkIn(mail: CapturedMail): string {
  const body = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const match = /https:\/\/\S+#token=[A-Za-z0-9_-]{43}/.exec(body);
  if (!match) throw new Error(`no link in mail: ${body}`);
  return match[0];
}
