export interface PageCspOptions {
  /** The page loads its own script files (`script-src 'self'`); none by default. */
  readonly scripts?: boolean;
  /** The page's script opens connections back to this server (fetch, Server-Sent Events). */
  readonly connect?: boolean;
  /** The page loads font files of this server (bundled apps: the console, Swagger UI). */
  readonly fonts?: boolean;
  /** Where the page's forms may post: here (the default) or nowhere. */
  readonly formAction?: 'self' | 'none';
}

/**
 * The CSP of every HTML page this server sends (the server-rendered pages, the console, the API
 * docs): nothing from elsewhere, styles only as files (no 'unsafe-inline'), scripts only as files
 * of this server and only on pages that need them, no framing, no <base>, forms post only here
 * (or nowhere).
 */
export function pageCsp(options: PageCspOptions = {}): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    ...(options.scripts ? ["script-src 'self'"] : []),
    ...(options.connect ? ["connect-src 'self'"] : []),
    ...(options.fonts ? ["font-src 'self'"] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    `form-action '${options.formAction ?? 'self'}'`,
  ].join('; ');
}
