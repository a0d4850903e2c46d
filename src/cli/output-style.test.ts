import { describe, expect, it } from 'vitest';
import { styleFor } from './output-style.js';

describe('CLI colours', () => {
  const tty = { isTTY: true };
  it('colours on a terminal', () => {
    const style = styleFor(tty, { env: { TERM: 'xterm-256color' } });
    expect(style.enabled).toBe(true);
    expect(style.red('INVALID')).toBe('\u001b[31mINVALID\u001b[0m');
  });

  it.each([
    ['into a pipe or a file', { isTTY: false }, {}, {}],
    ['with --json, even on a terminal', tty, { json: true }, {}],
    ['with NO_COLOR set', tty, {}, { NO_COLOR: '1' }],
    ['on a dumb terminal', tty, {}, { TERM: 'dumb' }],
  ])('never %s', (_when, stream, options, env) => {
    const style = styleFor(stream, { ...options, env });
    expect(style.enabled).toBe(false);
    for (const paint of [style.bold, style.green, style.red, style.dim]) expect(paint('text')).toBe('text');
  });
});
