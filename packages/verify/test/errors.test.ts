import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isVerifyError, JcsError, VERIFY_ERROR_CODES, VerifyError } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('error codes', () => {
  const codes = Object.keys(VERIFY_ERROR_CODES);

  it('are unique, follow SP_VERIFY_<WHAT>, and each has a description', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toMatch(/^SP_VERIFY_[A-Z0-9_]+$/);
      expect(VERIFY_ERROR_CODES[code as keyof typeof VERIFY_ERROR_CODES].length).toBeGreaterThan(10);
    }
  });

  it('are each documented in the README', () => {
    for (const code of codes) expect(readme).toContain(`\`${code}\``);
  });

  it('JcsError is a VerifyError carrying its code', () => {
    const err = new JcsError('SP_VERIFY_JCS_NON_FINITE', 'NaN and Infinity are not allowed');
    expect(err).toBeInstanceOf(VerifyError);
    expect(isVerifyError(err)).toBe(true);
    expect(err.code).toBe('SP_VERIFY_JCS_NON_FINITE');
    expect(err.name).toBe('JcsError');
    expect(isVerifyError(new Error('x'))).toBe(false);
  });
});
