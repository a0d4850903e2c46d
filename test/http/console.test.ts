import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, findConsoleDir, loadConsoleBundle } from '../../src/http/console.routes.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('the console bundle served under /console', () => {
  let app: TestApp;
  let index: string;
  let assets: string[];

  beforeAll(async () => {
    app = await startTestApp('sqlite');
    const res = await app.fetch('/console');
    expect(res.status).toBe(200);
    index = await res.text();
    assets = [...index.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves the page with the strict CSP: own scripts and styles only, never framed, never cached', async () => {
    for (const pathname of ['/console', '/console/', '/console/payloads/msg_01JDG3', '/console/index.html']) {
      const res = await app.fetch(pathname);
      expect(res.status, pathname).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(await res.text()).toBe(index);
    }
    expect(CONSOLE_CSP).toContain("default-src 'none'");
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("style-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).toContain("base-uri 'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
  });

  it('has no inline script or style and loads nothing from another origin', () => {
    expect(index).toMatch(/<script type="module"[^>]* src="\/console\/assets\/[^"]+\.js"><\/script>/);
    expect(index).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(index).not.toMatch(/<style|\sstyle=/);
    expect(assets.length).toBeGreaterThan(0);
    for (const url of assets) expect(url, url).toMatch(/^\/console\/assets\//);
  });

  it('serves hashed assets for a year, with their media type', async () => {
    const script = assets.find((a) => a.endsWith('.js'))!;
    const res = await app.fetch(script);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await res.text();
    expect(body.length).toBeGreaterThan(1000);
    // Nothing is imported or fetched from another host (the CSP would refuse it; the browser tests watch requests too).
    expect(body).not.toMatch(/(?:import\(|fetch\(|from)\s*["'`]https?:/);
  });

  it('serves the public /verify page under the same policy, without a session', async () => {
    const res = await app.fetch('/verify');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<title>Verify a receipt');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toBe(index);
  });

  it('answers 404, not the page, for an asset that does not exist', async () => {
    for (const pathname of ['/console/verify.html', '/console/assets/index-old.js', '/console/favicon.ico', '/console/assets/../../package.json', '/console/%2e%2e/%2e%2e/package.json']) {
      const res = await app.fetch(pathname);
      expect(res.status, pathname).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      await res.arrayBuffer();
    }
  });

  it('is public: no credentials needed, and no tenant data in it', async () => {
    const { tenant } = await app.createTenant();
    const res = await app.fetch('/console/payloads');
    expect(await res.text()).not.toContain(tenant);
  });
});

describe('the console bundle on disk', () => {
  it('is found beside the compiled server (dist/console) or in the workspace (packages/console/dist)', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'sealpost-console-'));
    try {
      mkdirSync(path.join(root, 'dist/http'), { recursive: true });
      expect(findConsoleDir(path.join(root, 'dist/http'))).toBeUndefined();
      mkdirSync(path.join(root, 'packages/console/dist'), { recursive: true });
      writeFileSync(path.join(root, 'packages/console/dist/index.html'), '<!doctype html>');
      expect(findConsoleDir(path.join(root, 'dist/http'))).toBe(path.join(root, 'packages/console/dist'));
      mkdirSync(path.join(root, 'dist/console/assets'), { recursive: true });
      writeFileSync(path.join(root, 'dist/console/index.html'), '<!doctype html><p>packaged');
      writeFileSync(path.join(root, 'dist/console/assets/a-1.js'), 'x');
      const dir = findConsoleDir(path.join(root, 'dist/http'))!;
      expect(dir).toBe(path.join(root, 'dist/console'));
      const bundle = loadConsoleBundle(dir);
      expect(bundle.index.toString()).toContain('packaged');
      expect([...bundle.files.keys()].sort()).toEqual(['assets/a-1.js', 'index.html']);
      expect(bundle.files.get('assets/a-1.js')?.type).toBe('text/javascript; charset=utf-8');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('is the workspace build when tests run from source', () => {
    expect(findConsoleDir(path.resolve(import.meta.dirname, '../../src/http'))).toBe(path.resolve(import.meta.dirname, '../../packages/console/dist'));
  });
});
