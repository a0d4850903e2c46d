import { fetch, Headers, Response as UndiciResponse, type Response } from 'undici';
import { CookieJar, PUBLIC_URL } from '../identity/sso/sso-browser.js';
import { IDP_CLIENT_ID, IDP_CLIENT_SECRET, startTestIdp, type TestIdp } from '../identity/sso/oidc-test-idp.js';
import { SoftwareAuthenticator } from './software-authenticator.js';

/** The staff OIDC callback the test IdP sends browsers back to. */
export const STAFF_CALLBACK = `${PUBLIC_URL}/staff/v1/auth/oidc/callback`;

/** A real OpenID provider on loopback for staff sign-in, and the app settings that point at it. */
export async function startStaffIdp(): Promise<{ idp: TestIdp; env: Record<string, string> }> {
  const idp = await startTestIdp([STAFF_CALLBACK]);
  return {
    idp,
    env: {
      SEALPOST_STAFF_OIDC_ISSUER: idp.issuer,
      SEALPOST_STAFF_OIDC_CLIENT_ID: IDP_CLIENT_ID,
      SEALPOST_STAFF_OIDC_CLIENT_SECRET: IDP_CLIENT_SECRET,
      SEALPOST_SSO_ALLOW_PRIVATE_IDP: 'true',
    },
  };
}

type Fetch = (path: string, init?: { method?: string; headers?: Record<string, string>; body?: string; redirect?: 'manual' }) => Promise<Response>;

/** A staff browser: the staff cookie and the CSRF token the page echoes. */
export interface StaffBrowser {
  cookie: string;
  csrf: string;
}

export function asStaff(staff: StaffBrowser, extra: Record<string, string> = {}): Record<string, string> {
  return { cookie: staff.cookie, 'x-sealpost-csrf': staff.csrf, ...extra };
}

function staffCookieOf(res: Response): string {
  const line = res.headers.getSetCookie().find((c) => c.startsWith('__Host-sealpost_staff='));
  if (!line) throw new Error(`no staff cookie (status ${res.status})`);
  return line.split(';')[0]!;
}

/** Plays the browser through the staff OIDC login (start, the IdP's redirects, callback); returns the OIDC-only session. */
export async function staffOidcLogin(fetchApp: Fetch, idp: TestIdp, person: { sub: string; email: string }): Promise<{ res: Response; staff?: StaffBrowser; body: Record<string, unknown> }> {
  idp.user = { sub: person.sub, email: person.email, email_verified: true, amr: ['pwd'] };
  const jar = new CookieJar();
  const start = await fetchApp('/staff/v1/auth/oidc/start', { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`start answered ${start.status}: ${await start.text()}`);
  jar.store(PUBLIC_URL, start.headers.getSetCookie());
  let location = start.headers.get('location') ?? '';
  for (let hops = 0; hops < 10 && !location.startsWith(`${PUBLIC_URL}/`); hops++) {
    const url = new URL(location);
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url.origin) } });
    jar.store(url.origin, res.headers.getSetCookie());
    if (res.status < 300 || res.status >= 400) throw new Error(`IdP answered ${res.status} at ${url.pathname}`);
    location = new URL(res.headers.get('location') ?? '', url).href;
  }
  const res = await fetchApp(location.slice(PUBLIC_URL.length), { headers: { cookie: jar.header(PUBLIC_URL) } });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) return { res, body };
  return { res, body, staff: { cookie: staffCookieOf(res), csrf: String(body.csrf_token) } };
}

const postJson = (fetchApp: Fetch, staff: StaffBrowser, path: string, body?: unknown) =>
  fetchApp(path, { method: 'POST', headers: asStaff(staff, body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

/** The WebAuthn step after OIDC: enrolment (with the `staff add` code) or an assertion; returns the full session. */
export async function staffWebauthn(fetchApp: Fetch, pending: StaffBrowser, key: SoftwareAuthenticator, enrolmentCode?: string): Promise<{ res: Response; staff?: StaffBrowser }> {
  const options = (await (await postJson(fetchApp, pending, enrolmentCode ? '/staff/v1/auth/webauthn/registration-options' : '/staff/v1/auth/webauthn/authentication-options')).json()) as { challenge: string };
  const res = enrolmentCode
    ? await postJson(fetchApp, pending, '/staff/v1/auth/webauthn/registration', { webauthn: key.register(options.challenge), enrolment_code: enrolmentCode })
    : await postJson(fetchApp, pending, '/staff/v1/auth/webauthn', { webauthn: key.authenticate(options.challenge) });
  if (res.status !== 200) return { res };
  const body = (await res.json()) as { csrf_token: string };
  return { res, staff: { cookie: staffCookieOf(res), csrf: body.csrf_token } };
}

/** A staff member signed in end to end: OIDC, then WebAuthn (enrolled on first use). */
export async function staffSignIn(fetchApp: Fetch, idp: TestIdp, person: { sub: string; email: string; key: SoftwareAuthenticator; enrolmentCode?: string }): Promise<StaffBrowser> {
  const login = await staffOidcLogin(fetchApp, idp, person);
  if (!login.staff) throw new Error(`staff OIDC login answered ${login.res.status}: ${JSON.stringify(login.body)}`);
  const done = await staffWebauthn(fetchApp, login.staff, person.key, login.body.next === 'webauthn_enrolment' ? person.enrolmentCode : undefined);
  if (!done.staff) throw new Error(`staff WebAuthn step answered ${done.res.status}: ${await done.res.text()}`);
  return done.staff;
}

/** The staff helpers over Fastify's inject (tests that build the API without a listener). */
export function injectFetch(app: { inject(options: { method: string; url: string; headers: Record<string, string>; payload?: string }): Promise<{ statusCode: number; headers: Record<string, string | string[] | number | undefined>; rawPayload: Buffer }> }): Fetch {
  return async (path, init = {}) => {
    const res = await app.inject({ method: init.method ?? 'GET', url: path, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { payload: init.body }) });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) headers.append(name, String(v));
    return new UndiciResponse([204, 304].includes(res.statusCode) ? null : res.rawPayload, { status: res.statusCode, headers });
  };
}
