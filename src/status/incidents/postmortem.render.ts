import type MarkdownItConstructor from 'markdown-it';
import { html, type SafeHtml } from '../../http/html/html.js';
import { lazyImport } from '../../util/lazy-import.js';

/** Link schemes a postmortem may use; anything else (javascript:, data:, vbscript:, file:…) stays text. */
const SAFE_LINK = /^(https?:|mailto:)/i;

/**
 * Postmortem Markdown to HTML, safely: raw HTML is escaped (`html: false`), links are limited to
 * http(s) and mailto (markdown-it's `validateLink`), images are off (the page loads nothing from
 * elsewhere), and links open without the opener and without a referrer.
 */
type MarkdownIt = ReturnType<typeof MarkdownItConstructor>;

function createRenderer(MarkdownItClass: typeof MarkdownItConstructor): MarkdownIt {
  const md = new MarkdownItClass({ html: false, linkify: false, typographer: false });
  md.validateLink = (url: string): boolean => SAFE_LINK.test(url.trim());
  md.disable(['image']);
  const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
    return defaultLinkOpen(tokens, idx, options, env, self);
  };
  return md;
}

/** Built at the first postmortem shown: most processes never render one. */
const renderer = lazyImport(async () => createRenderer((await import('markdown-it')).default));

export async function renderPostmortem(markdown: string): Promise<string> {
  return (await renderer()).render(markdown);
}

/**
 * The rendered postmortem as a page fragment. markdown-it escapes everything it does not emit
 * itself (html: false) and refuses unsafe links, so its output is markup made by a renderer,
 * not text from the author: it enters the page as a fragment through a template of one part.
 */
export async function postmortemFragment(markdown: string): Promise<SafeHtml> {
  const rendered = await renderPostmortem(markdown);
  return html(Object.assign([rendered], { raw: [rendered] }));
}
