/**
 * Server-rendered HTML for the public pages (trust center, status page), in four pieces:
 * - html.ts: `html`, the escaping tagged template, the only way to build markup; `safeUrl` for links.
 * - layout.ts: `renderPage`, the accessible shell; `sendPage`, the answer with media type, CSP and caching.
 * - csp.ts: `pageCsp`, the one policy of these pages (script files and connections only when asked).
 * - assets.ts: the static files under /assets/ (the stylesheet; a page's script goes there as a file).
 * A page route: `sendPage(reply, renderPage({ title, main: html`<h1>…</h1>…` }))`.
 */
import type { FastifyReply } from 'fastify';
import { SEALPOST_VERSION } from '../../delivery/forwarded-request.js';
import { pageCsp, type PageCspOptions } from './csp.js';
import { SITE_STYLESHEET } from './assets.js';
import { html, safeUrl, type SafeHtml } from './html.js';

export interface NavLink {
  readonly href: string;
  readonly text: string;
}

export interface PageOptions {
  /** The document title (and the tab's name); the page's own <h1> is part of `main`. */
  readonly title: string;
  /** One-line summary for `<meta name="description">`. */
  readonly description?: string;
  /** The page's content, inside the one <main> landmark. */
  readonly main: SafeHtml;
  /** Links of the site's navigation; the one whose href equals `current` is marked aria-current. */
  readonly nav?: readonly NavLink[];
  readonly current?: string;
  /** Script files of this server (asset paths), loaded deferred; the page's CSP must allow scripts. */
  readonly scripts?: readonly string[];
  readonly lang?: string;
}

/**
 * The shell of every server-rendered page: lang, viewport, the one stylesheet, a skip link to the
 * main content, and header / nav / main / footer landmarks (WCAG 2.4.1 bypass blocks, 1.3.1).
 * Everything passes through `html`, so only fragments made by it end up in the document.
 */
export function renderPage(options: PageOptions): SafeHtml {
  const nav = options.nav ?? [];
  return html`<!doctype html>
<html lang="${options.lang ?? 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${options.title}</title>
${options.description === undefined ? '' : html`<meta name="description" content="${options.description}">`}
<link rel="stylesheet" href="${SITE_STYLESHEET.path}">
${(options.scripts ?? []).map((src) => html`<script src="${safeUrl(src)}" defer></script>\n`)}</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header"><div class="wrap">
<p class="site-name"><a href="/">Sealpost</a></p>
${nav.length === 0 ? '' : html`<nav aria-label="Site"><ul>${nav.map((link) => html`<li><a href="${safeUrl(link.href)}"${link.href === options.current ? html` aria-current="page"` : ''}>${link.text}</a></li>`)}</ul></nav>`}
</div></header>
<main id="main" tabindex="-1"><div class="wrap">
${options.main}
</div></main>
<footer class="site-footer"><div class="wrap"><p>Sealpost ${SEALPOST_VERSION}</p></div></footer>
</body>
</html>
`;
}

export interface SendPageOptions extends PageCspOptions {
  /** `cache-control`; pages built from live facts default to a few seconds. */
  readonly cacheControl?: string;
  readonly status?: number;
}

/** Answers with a rendered page: HTML media type, the pages' CSP (replacing the API's deny-all one), caching. */
export function sendPage(reply: FastifyReply, page: SafeHtml, options: SendPageOptions = {}): FastifyReply {
  return reply
    .code(options.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', pageCsp(options))
    .header('cache-control', options.cacheControl ?? 'public, max-age=10')
    .send(page.toString());
}
