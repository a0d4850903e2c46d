/** Where a command writes: stdout, or a stand-in in tests. */
export interface StyledStream {
  readonly isTTY?: boolean;
}

export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  green(text: string): string;
  red(text: string): string;
  dim(text: string): string;
}

/** ECMA-48 SGR sequences: a colour, then reset. */
const sgr = (code: string) => (text: string): string => `\u001b[${code}m${text}\u001b[0m`;
const plain = (text: string): string => text;

/**
 * Colours for human output, only on a terminal: never in `--json` output, never into a pipe or a
 * file, and never when `NO_COLOR` is set (https://no-color.org).
 */
export function styleFor(stream: StyledStream, options: { json?: boolean; env?: NodeJS.ProcessEnv } = {}): Style {
  const env = options.env ?? process.env;
  const enabled = stream.isTTY === true && options.json !== true && !env.NO_COLOR && env.TERM !== 'dumb';
  if (!enabled) return { enabled, bold: plain, green: plain, red: plain, dim: plain };
  return { enabled, bold: sgr('1'), green: sgr('32'), red: sgr('31'), dim: sgr('2') };
}
