import { fetch } from 'undici';
import type { TestApp } from '../../support/test-app.js';

/** Cookies per origin, as a browser would keep them (attributes ignored but Max-Age=0). */
export class CookieJar {
  private readonly byOrigin = new Map<string, Map<string, string>>();

  store(origin: string, setCookies: readonly string[]): void {
    const jar = this.byOrigin.get(origin) ?? new Map<string, string>();
    for (const line of setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (/;\s*max-age=0/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, pair.slice(eq + 1).trim());
    }
    this.byOrigin.set(origin, jar);
  }

  header(origin: string): string {
    return [...(this.byOrigin.get(origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** The app's public URL in tests (startTestApp's publicUrl): where IdPs send the browser back. */
export const PUBLIC_URL = 'https://localhost';

/**
 * Plays the browser of an OIDC login up to the IdP's redirect back: GET start on the app, then
 * the IdP's redirects (login and consent finish at once). Returns the callback path and query,
 * and the app's cookies, without calling the callback, so a test can tamper with either.
 */
export async function authorizeAtIdp(app: TestApp, tenant: string, jar = new CookieJar()): Promise<{ callbackPath: string; cookie: string; jar: CookieJar }> {
  const start = await app.fetch(`/v1/auth/oidc/${tenant}/start`, { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`start answered ${start.status}: ${await start.text()}`);
  jar.store(PUBLIC_URL, start.headers.getSetCookie());
  let location = start.headers.get('location') ?? '';
  for (let hops = 0; hops < 10; hops++) {
    if (location.startsWith(`${PUBLIC_URL}/`)) {
      return { callbackPath: location.slice(PUBLIC_URL.length), cookie: jar.header(PUBLIC_URL), jar };
    }
    const url = new URL(location);
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url.origin) } });
    jar.store(url.origin, res.headers.getSetCookie());
    if (res.status < 300 || res.status >= 400) throw new Error(`IdP answered ${res.status} at ${url.pathname}: ${await res.text()}`);
    location = new URL(res.headers.get('location') ?? '', url).href;
  }
  throw new Error('too many redirects');
}
