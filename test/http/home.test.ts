import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOME_CSP } from '../../src/http/home.routes.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('GET /', () => {
  let app: TestApp;
  let html: string;
  let csp: string | null;

  beforeAll(async () => {
    app = await startTestApp('sqlite');
    const res = await app.fetch('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    csp = res.headers.get('content-security-policy');
    html = await res.text();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('links the API docs, the OpenAPI document, the log key and the health checks, each of which answers', async () => {
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(hrefs).toEqual(expect.arrayContaining(['/docs', '/v1/openapi.json', '/.well-known/sealpost-log-key', '/healthz', '/readyz']));
    for (const href of hrefs) {
      const res = await app.fetch(href);
      expect(res.status, href).toBe(200);
      await res.arrayBuffer();
    }
    expect(html).toContain('/.well-known/sealpost/tenants/&lt;tenant&gt;/jwks.json');
  });

  it('runs no script and allows only its own inline style, by hash', () => {
    expect(csp).toBe(HOME_CSP);
    expect(html).not.toMatch(/<script/i);
    const style = /<style>([^<]*)<\/style>/.exec(html)?.[1];
    expect(style).toBeDefined();
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style!).digest('base64')}'`);
    expect(csp).toContain("default-src 'none'");
  });

  it('names no tenant and needs no key', async () => {
    const { tenant } = await app.createTenant();
    const res = await app.fetch('/');
    expect(await res.text()).not.toContain(tenant);
  });
});
