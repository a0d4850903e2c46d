import type { Transporter } from 'nodemailer';
import { SealpostError } from '../errors/sealpost-error.js';
import { lazyImport } from '../util/lazy-import.js';

export interface OutboundMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** The mail Sealpost sends itself (invites, password resets, notices), through SEALPOST_OUTBOUND_SMTP_URL. */
export interface OutboundMailer {
  readonly configured: boolean;
  send(message: OutboundMessage): Promise<void>;
  close(): void;
}

export function mailNotConfigured(): SealpostError {
  return new SealpostError('SP_ERR_MAIL_NOT_CONFIGURED', 'Outbound mail is not configured (SEALPOST_OUTBOUND_SMTP_URL); use `sealpost operators create` to get a setup link');
}

/**
 * nodemailer over the configured relay. `smtp:` URLs must upgrade with STARTTLS (requireTLS):
 * links in these messages are credentials. `tls` lets tests trust their loopback server's
 * certificate; production uses the system's trust store.
 */
export function createOutboundMailer(options: { url: string | undefined; from: string; tls?: { ca?: string | Buffer; servername?: string } }): OutboundMailer {
  if (!options.url) {
    return {
      configured: false,
      send: async () => {
        throw mailNotConfigured();
      },
      close: () => {},
    };
  }
  const url = new URL(options.url);
  let transport: Transporter | undefined;
  // nodemailer is loaded with the first message: most processes never send one.
  const open = lazyImport(async () => {
    const { default: nodemailer } = await import('nodemailer');
    transport = nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
      secure: url.protocol === 'smtps:',
      requireTLS: url.protocol === 'smtp:',
      ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
    });
    return transport;
  });
  return {
    configured: true,
    async send(message) {
      await (await open()).sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text });
    },
    close: () => transport?.close(),
  };
}
