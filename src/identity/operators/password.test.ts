import { describe, expect, it } from 'vitest';
import commonPasswords from './common-passwords.json' with { type: 'json' };
import { hashPassword, passwordProblem, verifyPassword } from './password.js';

describe('passwords (NIST SP 800-63B)', () => {
  it('ships the 10,000 most common passwords', () => {
    expect(commonPasswords).toHaveLength(10_000);
    expect(commonPasswords.slice(0, 2)).toEqual(['123456', 'password']);
  });

  it('refuses fewer than 12 characters, counting code points, with no composition rules', () => {
    expect(passwordProblem('short pass1')).toMatch(/at least 12/);
    expect(passwordProblem('ąąąąąąąąąąąą')).toBeUndefined();
    expect(passwordProblem('all lower case words')).toBeUndefined();
  });

  it('refuses a common password whatever its case', () => {
    expect(passwordProblem('1qaz2wsx3edc')).toMatch(/most common/);
    expect(passwordProblem('QWERTY123456')).toMatch(/most common/);
  });

  it('refuses more than 256 characters', () => {
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
  });

  it('hashes with argon2id and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(hash, 'correct horse battery stapler')).toBe(false);
  });

  it('answers false for an account without a hash, after a dummy verification', async () => {
    expect(await verifyPassword(null, 'anything at all here')).toBe(false);
    expect(await verifyPassword('not a phc string', 'anything at all here')).toBe(false);
  });
});
