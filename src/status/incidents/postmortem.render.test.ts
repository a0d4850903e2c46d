import { describe, expect, it } from 'vitest';
import { renderPostmortem } from './postmortem.render.js';

describe('postmortem rendering', () => {
  it('escapes raw HTML: a <script> comes out as text', async () => {
    const out = await renderPostmortem('before <script>alert(1)</script> after');
    expect(out).not.toMatch(/<script/i);
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('leaves no element with an event handler: <img onerror> is text', async () => {
    const out = await renderPostmortem('<img src=x onerror="alert(1)">\n\n![x](https://example.com/x.png)');
    expect(out).not.toMatch(/<img/i);
    expect(out).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
  });

  it('refuses javascript:, data: and vbscript: links and keeps http(s) and mailto ones', async () => {
    const out = await renderPostmortem('[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html,x) [d](vbscript:x) [e](https://example.com) [f](mailto:security@example.com)');
    expect(out).not.toMatch(/href="(javascript|data|vbscript):/i);
    expect(out).toContain('<a href="https://example.com" rel="nofollow noopener noreferrer">e</a>');
    expect(out).toContain('<a href="mailto:security@example.com" rel="nofollow noopener noreferrer">f</a>');
  });

  it('renders ordinary Markdown', async () => {
    expect(await renderPostmortem('# Timeline\n\n- **12:00** alert')).toBe('<h1>Timeline</h1>\n<ul>\n<li><strong>12:00</strong> alert</li>\n</ul>\n');
  });
});
