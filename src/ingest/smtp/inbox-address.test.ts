import { describe, expect, it } from 'vitest';
import { INBOX_TOKEN_LENGTH, newInboxToken, normalizeInboundDomain, parseAlias, parseRecipient } from './inbox-address.js';

describe('inbox addresses', () => {
  it('makes 16-character lower-case base32 tokens that do not repeat', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newInboxToken()));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) expect(token).toMatch(/^[a-z2-7]{16}$/);
    expect(INBOX_TOKEN_LENGTH).toBe(16);
  });

  it('splits token and plus-tag, case-insensitively for token and domain', () => {
    const token = 'abcdefgh234567ab';
    expect(parseRecipient(`${token}@in.example.com`, 'in.example.com')).toEqual({ token, tag: null });
    expect(parseRecipient(`${token.toUpperCase()}+Invoices.2026@IN.Example.COM.`, 'in.example.com')).toEqual({ token, tag: 'Invoices.2026' });
    expect(parseRecipient(`${token}+@in.example.com`, 'in.example.com')).toEqual({ token, tag: null });
    expect(parseRecipient(`${token}+a+b@in.example.com`, 'in.example.com')).toBeUndefined();
  });

  it('refuses what cannot be an inbox', () => {
    for (const address of ['abcdefgh234567ab@other.example', 'abcdefgh234567a@in.example.com', 'abcdefgh234567a1@in.example.com', 'postmaster@in.example.com', '@in.example.com', 'abcdefgh234567ab', `abcdefgh234567ab+${'x'.repeat(48)}@in.example.com`, 'abcdefgh234567ab+a"b@in.example.com']) {
      expect(parseRecipient(address, 'in.example.com'), address).toBeUndefined();
    }
  });

  it('accepts host names as the inbound domain and refuses anything else', () => {
    expect(normalizeInboundDomain(' In.Example.COM. ')).toBe('in.example.com');
    expect(normalizeInboundDomain('localhost')).toBe('localhost');
    for (const bad of ['', 'exa mple.com', '-a.example', 'a..b', 'a_b.example', 'x'.repeat(64) + '.example']) {
      expect(() => normalizeInboundDomain(bad), bad).toThrow(/SEALPOST_INBOUND_DOMAIN/);
    }
  });

  it('reads named addresses (security@) of the inbound domain only, with their tag', () => {
    expect(parseAlias('Security@In.Example.com', 'in.example.com')).toEqual({ name: 'security', tag: null });
    expect(parseAlias('security+H1-report@in.example.com', 'in.example.com')).toEqual({ name: 'security', tag: 'H1-report' });
    expect(parseAlias('security@other.example', 'in.example.com')).toBeUndefined();
    expect(parseAlias('security+bad tag@in.example.com', 'in.example.com')).toBeUndefined();
  });
});
