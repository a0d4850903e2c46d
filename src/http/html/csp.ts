export interface PageCspOptions {
  /** The page loads its own script files (`script-src 'self'`); none by default. */
  readonly scripts?: boolean;
  /** The page's script opens connections back to this server (fetch, Server-Sent Events). */
  readonly connect?: boolean;
}

/**
 * The CSP of every server-rendered page: nothing from elsewhere, styles only from the one
 * stylesheet file (no 'unsafe-inline'), scripts only as files of this server and only on pages
 * that need them, no framing, no <base>, forms post only here.
 */
export function pageCsp(options: PageCspOptions = {}): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    ...(options.scripts ? ["script-src 'self'"] : []),
    ...(options.connect ? ["connect-src 'self'"] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}
