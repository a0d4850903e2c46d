/* eslint-disable security/detect-unsafe-regex -- a test-only reader of our own responses; the input is small and trusted */
/**
 * A strict reader of RFC 9116 security.txt for the tests: the signed message's text (RFC 4880
 * §7 cleartext framework, dash-escaping undone), then each line a comment, blank, or
 * `Field: value` (§4, ABNF), with the field rules of §2.5 checked.
 */
export interface ParsedSecurityTxt {
  readonly signed: boolean;
  readonly fields: readonly (readonly [string, string])[];
  get(name: string): string[];
}

const KNOWN = new Set(['acknowledgments', 'canonical', 'contact', 'encryption', 'expires', 'hiring', 'policy', 'preferred-languages', 'csaf']);

export function parseSecurityTxt(raw: string, now: number = Date.now()): ParsedSecurityTxt {
  // §4 ABNF: eol = *WSP [CR] LF.
  const file = raw.replace(/[ \t]*\r?\n/g, '\n');
  let text = file;
  const signed = file.startsWith('-----BEGIN PGP SIGNED MESSAGE-----\n');
  if (signed) {
    const match = /^-----BEGIN PGP SIGNED MESSAGE-----\n(?:Hash: [A-Z0-9, ]+\n)*\n([\s\S]*?)\n-----BEGIN PGP SIGNATURE-----\n[\s\S]+\n-----END PGP SIGNATURE-----\n?$/.exec(file);
    if (!match) throw new Error('malformed cleartext signature framework');
    text = `${match[1]!.split('\n').map((line) => line.replace(/^- /, '')).join('\n')}\n`;
  }
  if (!text.endsWith('\n')) throw new Error('the last line must end with a newline');
  const fields: [string, string][] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const field = /^([A-Za-z0-9-]+): (\S(?:.*\S)?)$/.exec(line);
    if (!field) throw new Error(`not a field, comment or blank line: ${JSON.stringify(line)}`);
    fields.push([field[1]!, field[2]!]);
  }
  const get = (name: string): string[] => fields.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  for (const [name] of fields) if (!KNOWN.has(name.toLowerCase())) throw new Error(`unknown field ${name}`);
  // §2.5.3 Contact: one or more, URIs.
  if (get('Contact').length === 0) throw new Error('Contact is required');
  for (const uri of get('Contact')) if (!/^(mailto:|tel:|https:\/\/)/.test(uri)) throw new Error(`Contact ${uri} is not a mailto:, tel: or https: URI`);
  // §2.5.5 Expires: exactly once, RFC 3339, in the future, recommended less than a year ahead.
  const expires = get('Expires');
  if (expires.length !== 1) throw new Error('Expires must appear exactly once');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(expires[0]!)) throw new Error('Expires is not RFC 3339');
  const expiresMs = Date.parse(expires[0]!);
  if (!(expiresMs > now)) throw new Error('Expires is in the past');
  if (expiresMs - now >= 365 * 86_400_000) throw new Error('Expires is a year or more ahead');
  // §2.5: web URIs MUST begin with https://.
  for (const name of ['Encryption', 'Policy', 'Canonical', 'Acknowledgments', 'Hiring']) {
    for (const uri of get(name)) if (!uri.startsWith('https://')) throw new Error(`${name} ${uri} is not https://`);
  }
  // §2.5.8 Preferred-Languages: at most once, comma-separated language tags.
  const languages = get('Preferred-Languages');
  if (languages.length > 1) throw new Error('Preferred-Languages may appear only once');
  if (languages[0] !== undefined && !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*(, ?[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*)*$/.test(languages[0])) throw new Error('Preferred-Languages is not a list of language tags');
  return { signed, fields, get };
}
