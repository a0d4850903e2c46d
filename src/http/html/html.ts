/**
 * The one way to put text into server-rendered markup. `html` is a tagged template: every
 * interpolated value is escaped unless it is already a `SafeHtml` fragment (made by `html`
 * itself), so a value from config, the database or a request can never open a tag, close an
 * attribute or start an entity. Attribute values must be quoted in the template; an
 * interpolation right after `=` throws at render time, because escaping does not make an
 * unquoted attribute safe (a space would start a new attribute).
 *
 * Usage:
 *   html`<li><a href="${safeUrl(link)}">${link.text}</a></li>`
 *   html`<ul>${items.map((item) => html`<li>${item}</li>`)}</ul>`   // arrays of fragments join
 */

/**
 * Markup that is already safe. The class is not exported, so only `html` makes one; a fragment
 * is also recorded as made here, so an object reaching the constructor some other way
 * (`fragment.constructor`) is still escaped as text.
 */
class SafeHtml {
  readonly #markup: string;
  constructor(markup: string, made: WeakSet<object>) {
    this.#markup = markup;
    made.add(this);
  }

  toString(): string {
    return this.#markup;
  }
}
export type { SafeHtml };

const MADE_BY_HTML = new WeakSet<object>();

/** What may be interpolated: text (escaped), numbers, fragments, lists of those; nothing renders for null, undefined and false. */
export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes the five characters that are special in HTML text and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml && MADE_BY_HTML.has(value)) return value.toString();
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

/** An unquoted attribute (`href=${x}`): escaping cannot keep a value there from adding attributes. */
const UNQUOTED_ATTRIBUTE = /[A-Za-z0-9-]=$/;

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) {
    if (UNQUOTED_ATTRIBUTE.test(strings[i]!)) throw new TypeError('html: quote attribute values ("${…}")');
    out += render(values[i]) + strings[i + 1]!;
  }
  return new SafeHtml(out, MADE_BY_HTML);
}

/** URL schemes a link may use; `javascript:` and `data:` would run or render attacker content on click. */
const SAFE_SCHEMES = /^(?:https?:|mailto:)/i;

/**
 * A URL for an `href`/`src` attribute: relative URLs and http(s)/mailto as they are, anything
 * else (`javascript:`, `data:`, `vbscript:`) replaced by `#`. The result is still escaped by
 * `html` when interpolated.
 */
export function safeUrl(url: string): string {
  const trimmed = url.trim();
  // A scheme is letters before the first ':' that comes before any '/', '?' or '#'.
  const scheme = /^([^:/?#]+):/.exec(trimmed);
  if (scheme === null) return trimmed;
  return SAFE_SCHEMES.test(trimmed) ? trimmed : '#';
}
