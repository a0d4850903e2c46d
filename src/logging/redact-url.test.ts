import { describe, expect, it } from 'vitest';
import { REDACTED, redactUrl } from './redact-url.js';

describe('redactUrl', () => {
  it('keeps a path without a query as it is', () => {
    expect(redactUrl('/v1/payloads/msg_01JDG3ZJ5YV5W5X6Q1S7T8K9AB')).toBe('/v1/payloads/msg_01JDG3ZJ5YV5W5X6Q1S7T8K9AB');
  });

  it('redacts the cursor and parameters named like credentials', () => {
    for (const name of ['cursor', 'token', 'access_token', 'api_key', 'secret', 'signature', 'code', 'state', 'password', 'X-Amz-Signature']) {
      expect(redactUrl(`/v1/x?${name}=abc&limit=5`), name).toBe(`/v1/x?${name}=${REDACTED}&limit=5`);
    }
  });

  it('redacts token-like values under any name', () => {
    const key = `sp_live_abcdefghijkl_${'A'.repeat(43)}`;
    expect(redactUrl(`/v1/x?k=${key}`)).toBe(`/v1/x?k=${REDACTED}`);
    expect(redactUrl(`/v1/x?q=${encodeURIComponent(key)}`)).toBe(`/v1/x?q=${REDACTED}`);
    expect(redactUrl(`/v1/x?q=${'ab12'.repeat(16)}`)).toBe(`/v1/x?q=${REDACTED}`);
    expect(redactUrl(`/v1/x?q=${'Zm9v'.repeat(10)}%3D%3D`)).toBe(`/v1/x?q=${REDACTED}`);
    expect(redactUrl(`/v1/x?${'Zm9v'.repeat(10)}`)).toBe(`/v1/x?${REDACTED}`);
  });

  it('keeps harmless parameters and resource ids readable', () => {
    const url = '/v1/deliveries?limit=50&after=msg_01JDG3ZJ5YV5W5X6Q1S7T8K9AB&status=failed&flag';
    expect(redactUrl(url)).toBe(url);
  });

  it('redacts a value that does not decode', () => {
    expect(redactUrl('/v1/x?q=%E0%A4%A')).toBe(`/v1/x?q=${REDACTED}`);
  });
});
