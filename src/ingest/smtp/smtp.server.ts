import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerEnvelope, type SMTPServerSession } from 'smtp-server';
import type { Logger } from '../../logging/logger.js';
import type { SealpostConfig } from '../../config/config.schema.js';
import type { EncryptedBlobStore } from '../../storage/encrypted-blob-store.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { RateLimiter } from '../../util/rate-limiter.js';
import { buildTlsOptions, loadTlsMaterial } from '../../crypto/tls-options.js';
import type { PayloadService } from '../payload.service.js';
import { InboundMessageService, type AcceptedMessage, type InboundRecipient } from './inbound-message.service.js';
import type { InboxService } from './inbox.service.js';
import { cachedResolver, systemLookup, type DnsResolver } from './dns-resolver.js';
import { smtpReplyFor } from './smtp-reply.js';

/** RFC 5321 §4.5.3.1.8 asks servers to take at least 100; half of that covers every real invoice run. */
export const MAX_RECIPIENTS = 50;
/** RFC 5321 §4.5.3.2.7: a server should wait at least 5 minutes for the next command. */
const DEFAULT_SOCKET_TIMEOUT_MS = 5 * 60_000;
/** All connections of one process; beyond this smtp-server answers 421 at once. */
const DEFAULT_MAX_CLIENTS = 1_000;
/** SPF/DKIM/DMARC lookups after the message is in; the client waits for our reply meanwhile. */
const DEFAULT_AUTH_TIMEOUT_MS = 30_000;

export interface SmtpLimits {
  readonly maxMessageBytes: number;
  readonly maxConnectionsPerIp: number;
  readonly messagesPerMinutePerIp: number;
  readonly maxClients: number;
  /** Idle time allowed while the client owes us a command or data. */
  readonly socketTimeoutMs: number;
  readonly authTimeoutMs: number;
  /** Longest `text`/`html` kept in the envelope, in characters. */
  readonly maxTextChars: number;
}

export interface StartSmtpServerOptions {
  readonly context: { readonly config: SealpostConfig; readonly logger: Logger; readonly blobs: EncryptedBlobStore };
  readonly payloads: PayloadService;
  /** Resolves RCPT TO addresses to inboxes. */
  readonly inboxes: InboxService;
  readonly port: number;
  readonly host: string;
  /** DNS for SPF/DKIM/DMARC/ARC; the system resolver (short timeouts, cached) when absent. */
  readonly resolver?: DnsResolver;
  /** Host name in the greeting and in Authentication-Results; os.hostname() by default. */
  readonly name?: string;
  readonly limits?: Partial<SmtpLimits>;
  /** Clock of the per-IP message rate limit (tests pin it). */
  readonly now?: () => number;
  /** Told of each new message once stored (the deployment's security intake). */
  readonly onAccepted?: (message: AcceptedMessage) => void;
}

export interface SmtpServerHandle {
  readonly port: number;
  /** Re-reads the certificate and key (SIGHUP), as the HTTPS server does. */
  reloadTls(): Promise<void>;
  /** Stops accepting, lets transactions in flight finish (up to the shutdown timeout), then closes. */
  close(): Promise<void>;
}

/** What one transaction (MAIL FROM to end of DATA) has accepted: every recipient belongs to this tenant and policy. */
interface TransactionState {
  tenantId: string;
  dmarcPolicy: 'accept' | 'reject';
  readonly recipients: Map<string, InboundRecipient>;
}

/**
 * The SMTP ingress (DESIGN §1): STARTTLS required before MAIL FROM, no AUTH, recipients checked
 * against inboxes at RCPT TO, limits answered with proper replies, and a message acknowledged
 * with 250 only once it is stored with its outbox rows (DESIGN §7).
 */
export async function startSmtpServer(options: StartSmtpServerOptions): Promise<SmtpServerHandle> {
  const { config, logger } = options.context;
  const limits: SmtpLimits = {
    maxMessageBytes: config.smtpMaxMessageBytes,
    maxConnectionsPerIp: config.smtpMaxConnectionsPerIp,
    messagesPerMinutePerIp: config.smtpRateLimitPerIp,
    maxClients: DEFAULT_MAX_CLIENTS,
    socketTimeoutMs: DEFAULT_SOCKET_TIMEOUT_MS,
    authTimeoutMs: DEFAULT_AUTH_TIMEOUT_MS,
    maxTextChars: config.maxBodyBytes,
    ...options.limits,
  };
  const name = options.name ?? os.hostname();
  const { inboxes } = options;
  const messages = new InboundMessageService({
    blobs: options.context.blobs,
    payloads: options.payloads,
    resolver: options.resolver ?? cachedResolver(systemLookup()),
    mta: name,
    maxTextChars: limits.maxTextChars,
    authTimeoutMs: limits.authTimeoutMs,
    ...(options.onAccepted ? { onAccepted: options.onAccepted } : {}),
  });
  const messageRate = new RateLimiter(limits.messagesPerMinutePerIp, options.now);
  const connectionsPerIp = new Map<string, number>();
  const counted = new Set<string>();
  const transactions = new WeakMap<SMTPServerEnvelope, TransactionState>();
  /** The negotiated protocol (getCipher().version names the cipher's minimum, not what was negotiated). */
  const protocols = new WeakMap<SMTPServerSession, string>();
  const tls = () => loadTlsMaterial(config, logger).then((material) => buildTlsOptions(config, material));

  const refuse = (error: SealpostError, session: SMTPServerSession): Error => smtpReplyFor(error, logger, { session: session.id, ip: session.remoteAddress });

  const server = new SMTPServer({
    ...(await tls()),
    secure: false,
    name,
    banner: 'Sealpost',
    size: limits.maxMessageBytes,
    // Inbound mail from the world: no AUTH at all, and STARTTLS stays offered (required in onMailFrom).
    authOptional: true,
    disabledCommands: ['AUTH'],
    // PTR records belong to whoever owns the client's address; nothing here relies on them.
    disableReverseLookup: true,
    maxClients: limits.maxClients,
    socketTimeout: limits.socketTimeoutMs,
    closeTimeout: config.shutdownTimeoutSeconds * 1000,
    logger: false,

    onConnect(session, callback) {
      const ip = session.remoteAddress;
      const open = (connectionsPerIp.get(ip) ?? 0) + 1;
      if (open > limits.maxConnectionsPerIp) {
        callback(refuse(new SealpostError('SP_ERR_SMTP_TOO_MANY_CONNECTIONS', 'Too many connections from your address, try again later'), session));
        return;
      }
      connectionsPerIp.set(ip, open);
      counted.add(session.id);
      callback();
    },

    onClose(session) {
      if (!counted.delete(session.id)) return;
      const ip = session.remoteAddress;
      const open = (connectionsPerIp.get(ip) ?? 1) - 1;
      if (open > 0) connectionsPerIp.set(ip, open);
      else connectionsPerIp.delete(ip);
    },

    onSecure(socket, session, callback) {
      protocols.set(session, (socket as TLSSocket).getProtocol() ?? 'unknown');
      callback();
    },

    onMailFrom(_address, session, callback) {
      if (!session.secure) {
        callback(refuse(new SealpostError('SP_ERR_SMTP_STARTTLS_REQUIRED', 'Must issue a STARTTLS command first'), session));
        return;
      }
      if (messageRate.hit(session.remoteAddress) > 0) {
        // 421 also closes the connection: the client retries the whole delivery later.
        callback(refuse(new SealpostError('SP_ERR_SMTP_RATE_LIMITED', 'Too many messages from your address, try again later'), session));
        return;
      }
      callback();
    },

    onRcptTo(address, session, callback) {
      onRecipient(address, session).then(
        () => callback(),
        (err: unknown) => callback(smtpReplyFor(err, logger, { session: session.id, ip: session.remoteAddress })),
      );
    },

    onData(stream, session, callback) {
      onMessage(stream, session).then(
        (id) => callback(null, `2.6.0 Message accepted as ${id}`),
        (err: unknown) => callback(smtpReplyFor(err, logger, { session: session.id, ip: session.remoteAddress })),
      );
    },
  });

  async function onRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    if (!session.secure) throw new SealpostError('SP_ERR_SMTP_STARTTLS_REQUIRED', 'Must issue a STARTTLS command first');
    const state = transactions.get(session.envelope);
    const key = address.address.toLowerCase();
    if (state?.recipients.has(key)) return;
    if ((state?.recipients.size ?? 0) >= MAX_RECIPIENTS) {
      throw new SealpostError('SP_ERR_SMTP_TOO_MANY_RECIPIENTS', `Too many recipients, at most ${MAX_RECIPIENTS} per message`);
    }
    const found = await inboxes.resolveRecipient(address.address);
    if (!found) throw new SealpostError('SP_ERR_SMTP_RECIPIENT_UNKNOWN', 'No such recipient', { logDetail: { recipient: address.address.slice(0, 320) } });
    const recipient: InboundRecipient = { address: address.address, inboxId: found.inbox.id, tag: found.tag };
    if (!state) {
      transactions.set(session.envelope, { tenantId: found.inbox.tenantId, dmarcPolicy: found.inbox.dmarcPolicy, recipients: new Map([[key, recipient]]) });
      return;
    }
    // One stored message belongs to one tenant and one policy decision; the client sends the rest
    // in another transaction, as it does for any 452 (RFC 5321 §4.5.3.1.10).
    if (state.tenantId !== found.inbox.tenantId || state.dmarcPolicy !== found.inbox.dmarcPolicy) {
      throw new SealpostError('SP_ERR_SMTP_RECIPIENT_DEFERRED', 'Send this recipient in a separate transaction');
    }
    state.recipients.set(key, recipient);
  }

  async function onMessage(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const state = transactions.get(session.envelope);
    const mailFrom = session.envelope.mailFrom;
    const protocol = protocols.get(session);
    if (!state || !mailFrom || !protocol) {
      // smtp-server only starts DATA after an accepted RCPT, so this is a bug, not a client error.
      stream.resume();
      throw new Error('DATA without an accepted transaction');
    }
    const result = await messages.receive(stream, {
      tenantId: state.tenantId,
      dmarcPolicy: state.dmarcPolicy,
      recipients: [...state.recipients.values()],
      mailFrom: mailFrom.address,
      helo: session.hostNameAppearsAs || '',
      remoteIp: session.remoteAddress,
      tls: protocol,
    });
    logger.info({ session: session.id, payload: result.id, replayed: result.replayed, tenant: state.tenantId }, 'smtp: message accepted');
    return result.id;
  }

  // Failed handshakes (TLS 1.1 clients, scanners) and dropped sockets: the client's problem, not ours.
  server.on('error', (err) => logger.info({ err }, 'smtp: connection error'));
  const port = await new Promise<number>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.server.off('error', onError);
      resolve((server.server.address() as AddressInfo).port);
    });
  });

  return {
    port,
    async reloadTls() {
      server.updateSecureContext(await tls());
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
