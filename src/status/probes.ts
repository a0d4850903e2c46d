import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ProbeResult } from './component.js';

/** A probe that gets no answer within this is an outage: clients give up about as soon. */
export const PROBE_TIMEOUT_MS = 5_000;
/** Slower than this and the component works, but not as customers expect it to. */
export const PROBE_SLOW_MS = 2_000;
/** A certificate this close to expiry is a coming outage, shown as degraded while there is time to act. */
const CERT_EXPIRY_WARNING_MS = 7 * 24 * 3_600_000;
/** Answers longer than this are not what a health route or an SMTP greeting sends. */
const MAX_ANSWER_BYTES = 16 * 1024;

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
}

/** Reads a socket's text until `done` says the answer is complete, or fails on close, error, size or time. */
function readUntil(socket: Socket, done: (text: string) => boolean, deadline: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error('no answer in time')), Math.max(0, deadline - Date.now()));
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (text.length > MAX_ANSWER_BYTES) finish(new Error('answer too long'));
      else if (done(text)) finish();
    };
    const onEnd = (): void => finish(done(text) ? undefined : new Error('connection closed'));
    const onError = (err: Error): void => finish(err);
    function finish(err?: Error): void {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
      if (err) reject(err);
      else resolve(text);
    }
    socket.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onError);
  });
}

function timed(started: number, ok: string): ProbeResult {
  const ms = Date.now() - started;
  return ms > PROBE_SLOW_MS ? { state: 'degraded', detail: `slow: answered in ${ms} ms` } : { state: 'operational', detail: ok };
}

/** An SMTP reply is complete at its last line, `NNN ` (RFC 5321 §4.2.1). */
const completeReply = (text: string): boolean => /(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(text);

/**
 * SMTP ingress: the banner, EHLO, and STARTTLS among the extensions. The ingress refuses mail
 * before STARTTLS, so a listener that stopped offering it accepts nothing: a major outage.
 */
export async function probeSmtp(target: ProbeTarget): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + PROBE_TIMEOUT_MS;
  const socket = netConnect({ host: target.host, port: target.port });
  socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
  try {
    const banner = await readUntil(socket, completeReply, deadline);
    if (!banner.startsWith('220')) return { state: 'major_outage', detail: 'SMTP greeting refused' };
    socket.write('EHLO status-probe.sealpost.invalid\r\n');
    const ehlo = await readUntil(socket, completeReply, deadline);
    if (!ehlo.startsWith('250')) return { state: 'major_outage', detail: 'EHLO refused' };
    if (!/^250[- ]STARTTLS\r?$/im.test(ehlo)) return { state: 'major_outage', detail: 'STARTTLS not offered' };
    socket.write('QUIT\r\n');
    return timed(started, 'greeting, EHLO and STARTTLS answered');
  } catch {
    return { state: 'major_outage', detail: 'SMTP listener not answering' };
  } finally {
    socket.destroy();
  }
}

/**
 * HTTPS: a TLS handshake, then `GET <path>` over it. The probe checks the deployment's own
 * listener, not who it is (the certificate may be self-signed or issued for a public name this
 * loopback address does not carry), so the chain is not verified; its expiry date is.
 * `okBelow`: the health route must answer 200; a page may answer any status below 500.
 */
export async function probeHttps(target: ProbeTarget & { servername?: string }, path: string, accept: (status: number) => boolean): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + PROBE_TIMEOUT_MS;
  let socket: TLSSocket | undefined;
  try {
    socket = await new Promise<TLSSocket>((resolve, reject) => {
      // Verifying the chain would test the probe's trust store, not the listener (see above).
      const s = tlsConnect({ host: target.host, port: target.port, servername: target.servername ?? 'localhost', rejectUnauthorized: false, minVersion: 'TLSv1.2' });
      s.setTimeout(PROBE_TIMEOUT_MS, () => s.destroy(new Error('timed out')));
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    const validTo = Date.parse(socket.getPeerCertificate().valid_to ?? '');
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ${target.servername ?? 'localhost'}\r\nuser-agent: sealpost-status-probe\r\nconnection: close\r\n\r\n`);
    const head = await readUntil(socket, (text) => text.includes('\r\n'), deadline);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    if (!accept(status)) return { state: status >= 500 || status === 0 ? 'major_outage' : 'partial_outage', detail: `answered ${status || 'garbage'}` };
    if (Number.isFinite(validTo) && validTo - Date.now() < CERT_EXPIRY_WARNING_MS) return { state: 'degraded', detail: 'TLS certificate expires within 7 days' };
    return timed(started, 'TLS handshake and request answered');
  } catch {
    return { state: 'major_outage', detail: 'HTTPS listener not answering' };
  } finally {
    socket?.destroy();
  }
}

/** What the delivery probe reads (status.repository.ts). */
export interface DeliverySignals {
  /** Age of the oldest pending delivery that is due and not leased by a worker (ms), 0 if none. */
  readonly oldestDueLagMs: number;
  /** Workers whose heartbeat is recent. */
  readonly liveWorkers: number;
  /** Attempts of the last minutes that failed inside Sealpost (no answer from a destination is not ours). */
  readonly recentAttempts: number;
  readonly recentInternalFailures: number;
}

/** Lag past these: customers see their webhooks late (degraded), then very late (partial outage). */
export const DELIVERY_LAG_DEGRADED_MS = 60_000;
export const DELIVERY_LAG_PARTIAL_MS = 5 * 60_000;
/** Below this many attempts an error rate says nothing. */
const MIN_ATTEMPTS_FOR_RATE = 10;

/** Delivery: the lag of the oldest due delivery, live workers, and Sealpost's own failures among recent attempts. */
export function deliveryState(signals: DeliverySignals): ProbeResult {
  const lag = signals.oldestDueLagMs;
  if (signals.liveWorkers === 0) {
    return lag > DELIVERY_LAG_DEGRADED_MS ? { state: 'major_outage', detail: 'no delivery worker running; deliveries waiting' } : { state: 'degraded', detail: 'no delivery worker running' };
  }
  if (lag > DELIVERY_LAG_PARTIAL_MS) return { state: 'partial_outage', detail: `deliveries ${Math.round(lag / 60_000)} min late` };
  if (signals.recentAttempts >= MIN_ATTEMPTS_FOR_RATE && signals.recentInternalFailures / signals.recentAttempts > 0.5) return { state: 'partial_outage', detail: 'most recent attempts failed inside Sealpost' };
  if (lag > DELIVERY_LAG_DEGRADED_MS) return { state: 'degraded', detail: `deliveries ${Math.round(lag / 1000)} s late` };
  if (signals.recentAttempts >= MIN_ATTEMPTS_FOR_RATE && signals.recentInternalFailures / signals.recentAttempts > 0.1) return { state: 'degraded', detail: 'some recent attempts failed inside Sealpost' };
  return { state: 'operational', detail: 'deliveries on time' };
}
