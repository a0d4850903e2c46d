import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_STYLESHEET } from '../../src/http/html/assets.js';
import { SITE_CSS } from '../../src/http/html/site.css.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('GET /assets/…', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp('sqlite');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves the stylesheet as CSS under its content hash, cacheable for good, with the security headers', async () => {
    const res = await app.fetch(SITE_STYLESHEET.path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await res.text();
    expect(body).toBe(SITE_CSS);
    expect(SITE_STYLESHEET.path).toContain(createHash('sha256').update(body).digest('hex').slice(0, 12));
  });

  it('answers 404 for any other name under /assets/', async () => {
    const res = await app.fetch('/assets/site-000000000000.css');
    expect(res.status).toBe(404);
    await res.arrayBuffer();
  });
});
