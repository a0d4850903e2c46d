import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHtml, html, safeUrl } from './html.js';

const ENTITY = /&(amp|lt|gt|quot|#39);/g;
const DECODE: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
const decode = (text: string): string => text.replace(ENTITY, (_m, name: string) => DECODE[name]!);

/** Strings rich in the characters that matter to an HTML tokenizer, plus any Unicode. */
const hostile = fc.oneof(
  fc.string({ unit: fc.constantFrom('<', '>', '"', "'", '&', '=', '/', ' ', 'a', 's', 'c', 'r', 'i', 'p', 't', '!', '-', '#', ';', '`', '\n') }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('<script>alert(1)</script>', '" onmouseover="x', "' autofocus onfocus='x", '&lt;', '</p><img src=x onerror=y>', '<!--', ']]>'),
);

describe('html', () => {
  it('escapes every interpolation so that no string opens a tag, leaves its attribute or starts an entity of its own', () => {
    fc.assert(
      fc.property(hostile, hostile, (attribute, text) => {
        const out = html`<p title="${attribute}">${text}</p>`.toString();
        const [, value, body] = /^<p title="([^"]*)">([^<]*)<\/p>$/.exec(out) ?? [];
        // The shape held: one element, one attribute, its value ended by our quote, no other tag.
        expect(value).toBeDefined();
        expect(body).toBeDefined();
        for (const segment of [value!, body!]) {
          expect(segment).not.toMatch(/[<>"']/);
          // Every & is one of ours, so the browser decodes exactly the input back.
          expect(segment.replace(ENTITY, '')).not.toContain('&');
        }
        expect(decode(value!)).toBe(attribute);
        expect(decode(body!)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes the five special characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('keeps fragments it made itself, joins lists and renders nothing for null, undefined and false', () => {
    const items = ['<b>', 'two'].map((item) => html`<li>${item}</li>`);
    expect(html`<ul>${items}</ul>${null}${undefined}${false}${0}`.toString()).toBe('<ul><li>&lt;b&gt;</li><li>two</li></ul>0');
  });

  it('refuses an unquoted attribute value', () => {
    expect(() => html`<a href=${'x onclick=alert(1)'}>x</a>`).toThrow(/quote attribute values/);
    expect(() => html`<p>a = ${'b'}</p>`).not.toThrow();
  });

  it('treats an object that only looks like a fragment as text', () => {
    const fake = { toString: () => '<script>x</script>' } as unknown as string;
    expect(html`${fake}`.toString()).toBe('&lt;script&gt;x&lt;/script&gt;');
    const Forged = html``.constructor as new (markup: string, made: WeakSet<object>) => object;
    const forged = new Forged('<script>y</script>', new WeakSet());
    expect(html`${forged as unknown as string}`.toString()).toBe('&lt;script&gt;y&lt;/script&gt;');
  });
});

describe('safeUrl', () => {
  it('keeps relative, https, http and mailto URLs', () => {
    for (const url of ['/security', 'pgp-key.asc', '#main', '?a=b', 'https://example.com/x', 'http://example.com', 'mailto:security@example.com']) {
      expect(safeUrl(url)).toBe(url);
    }
  });

  it('replaces script and data URLs, whatever their case or padding', () => {
    for (const url of ['javascript:alert(1)', ' JaVaScRiPt:alert(1)', 'data:text/html,<script>', 'vbscript:x']) {
      expect(safeUrl(url)).toBe('#');
    }
  });
});
