import type { Readable } from 'node:stream';
import { authenticate, type AuthenticateResult } from 'mailauth';
import type { DnsResolver } from './dns-resolver.js';

/** Results as Authentication-Results names them (RFC 8601): pass, fail, softfail, neutral, none, temperror, permerror, policy. */
export interface SenderAuth {
  readonly spf: string;
  readonly dkim: string;
  readonly dmarc: string;
  readonly arc: string;
}

export const UNAVAILABLE_AUTH: SenderAuth = { spf: 'temperror', dkim: 'temperror', dmarc: 'temperror', arc: 'temperror' };

export interface SenderAuthInput {
  readonly ip: string;
  readonly helo: string;
  /** MAIL FROM; empty for the null sender (bounces), whose SPF identity is the HELO name. */
  readonly mailFrom: string;
  /** Our host name, as it appears in the Authentication-Results of ARC. */
  readonly mta: string;
  readonly resolver: DnsResolver;
}

/**
 * SPF, DKIM, DMARC and ARC of one message with mailauth, reading the message as a stream (DKIM
 * hashes the body on the fly). Never rejects: a failure to evaluate is `temperror`, and what
 * to do about it is the inbox policy's business.
 */
export async function authenticateSender(message: Readable, input: SenderAuthInput): Promise<SenderAuth> {
  let result: AuthenticateResult;
  try {
    result = await authenticate(message, {
      ip: input.ip,
      helo: input.helo,
      ...(input.mailFrom ? { sender: input.mailFrom } : {}),
      mta: input.mta,
      resolver: input.resolver,
      disableBimi: true,
    });
  } catch {
    message.resume();
    return UNAVAILABLE_AUTH;
  }
  return summarize(result);
}

function summarize(result: AuthenticateResult): SenderAuth {
  const signatures = result.dkim?.results ?? [];
  // One valid signature authenticates the message (RFC 6376 §6.1); otherwise report the first verdict.
  const dkim = signatures.some((s) => s.status?.result === 'pass') ? 'pass' : (signatures[0]?.status?.result ?? 'none');
  return {
    spf: name(result.spf ? result.spf.status.result : 'none'),
    dkim: name(dkim),
    dmarc: name(result.dmarc ? result.dmarc.status.result : 'none'),
    arc: name(result.arc ? result.arc.status.result : 'none'),
  };
}

/** mailauth says `temperr` in places; RFC 8601 names it `temperror`. */
function name(result: string): string {
  return result === 'temperr' ? 'temperror' : result;
}
