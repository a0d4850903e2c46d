import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors/error-codes.js';

const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');

describe('error catalogue', () => {
  const codes = Object.keys(ERROR_CODES);

  it('uses the SP_ERR_<AREA>_<WHAT> form and valid HTTP statuses', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^SP_ERR_[A-Z0-9]+_[A-Z0-9_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });

  it('documents every code in docs/errors.md, once', () => {
    for (const code of codes) {
      expect(doc.split(`| \`${code}\` |`).length - 1, code).toBe(1);
    }
  });

  it('documents no code that does not exist (retired codes are marked as such)', () => {
    const documented = [...doc.matchAll(/^\| `(SP_ERR_[A-Z0-9_]+)` \|(.*)$/gm)];
    for (const [, code, rest] of documented) {
      if (!codes.includes(code!)) expect(rest, `${code} is documented but not defined`).toMatch(/retired/i);
    }
  });
});
