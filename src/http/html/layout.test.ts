import { describe, expect, it } from 'vitest';
import { pageCsp } from './csp.js';
import { SITE_STYLESHEET } from './assets.js';
import { html } from './html.js';
import { renderPage } from './layout.js';

describe('renderPage', () => {
  const page = renderPage({
    title: 'Security <of> "us"',
    description: 'facts',
    main: html`<h1>Security</h1>`,
    nav: [{ href: '/security', text: 'Security' }, { href: 'javascript:alert(1)', text: 'x' }],
    current: '/security',
  }).toString();

  it('declares the language and viewport and links the one stylesheet by its hashed path', () => {
    expect(page).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(page).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
    expect(page).toContain(`<link rel="stylesheet" href="${SITE_STYLESHEET.path}">`);
    expect(SITE_STYLESHEET.path).toMatch(/^\/assets\/site-[0-9a-f]{12}\.css$/);
  });

  it('opens with a skip link to the one main landmark, between a header and a footer', () => {
    expect(page.indexOf('<a class="skip-link" href="#main">')).toBeLessThan(page.indexOf('<header'));
    expect(page.match(/<main /g)).toHaveLength(1);
    expect(page).toContain('<main id="main" tabindex="-1">');
    expect(page.indexOf('<header')).toBeLessThan(page.indexOf('<main'));
    expect(page.indexOf('</main>')).toBeLessThan(page.indexOf('<footer'));
    expect(page).toContain('<nav aria-label="Site">');
  });

  it('escapes the title and marks the current link; a script URL in the navigation becomes #', () => {
    expect(page).toContain('<title>Security &lt;of&gt; &quot;us&quot;</title>');
    expect(page).toContain('<a href="/security" aria-current="page">Security</a>');
    expect(page).toContain('<a href="#">x</a>');
    expect(page).not.toContain('javascript:');
  });

  it('has no inline style or script, so the CSP needs no unsafe-inline', () => {
    expect(page).not.toMatch(/<style|style=|<script(?![^>]*src=)/);
  });
});

describe('pageCsp', () => {
  it('allows styles from this server only, no script unless asked, no framing, no base, forms here only', () => {
    expect(pageCsp()).toBe("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    expect(pageCsp({ scripts: true, connect: true })).toContain("script-src 'self'; connect-src 'self'");
    expect(pageCsp()).not.toContain('unsafe');
  });
});
