import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Who the test IdP signs in next, and how. */
export interface TestIdpUser {
  sub: string;
  email: string;
  email_verified: boolean;
  /** RFC 8176 methods the IdP asserts in the ID token. */
  amr: string[];
}

export const IDP_CLIENT_ID = 'sealpost';
export const IDP_CLIENT_SECRET = 'test-idp-client-secret';

export interface TestIdp {
  /** `http://127.0.0.1:<port>`: the issuer the provider names itself. */
  readonly issuer: string;
  readonly port: number;
  /** Mutable: the next login signs in this person. */
  user: TestIdpUser;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (oidc-provider) on 127.0.0.1 over plain HTTP, whose login and consent
 * screens finish at once for `user`: the authorization code flow runs for real (PKCE, state,
 * nonce, signed ID tokens, one-time codes), without a UI.
 */
export async function startTestIdp(redirectUris: readonly string[]): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const idp: TestIdp = {
    issuer,
    port,
    user: { sub: 'user-1', email: 'ada@example.com', email_verified: true, amr: ['pwd', 'mfa'] },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
  const provider = new Provider(issuer, {
    clients: [{ client_id: IDP_CLIENT_ID, client_secret: IDP_CLIENT_SECRET, redirect_uris: [...redirectUris], grant_types: ['authorization_code'], response_types: ['code'] }],
    // amr with the openid scope, so every ID token carries the methods of the login (as Entra ID and Okta do).
    claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'] },
    cookies: { keys: ['test-idp-cookie-key'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: idp.user.email, email_verified: idp.user.email_verified }),
    }),
  });
  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) {
      handle(req, res);
      return;
    }
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        await provider.interactionFinished(req, res, { login: { accountId: idp.user.sub, amr: idp.user.amr } }, { mergeWithLastSubmission: false });
        return;
      }
      const grant = new provider.Grant({ accountId: details.session?.accountId ?? idp.user.sub, clientId: details.params['client_id'] ?? '' });
      grant.addOIDCScope(details.params['scope'] ?? 'openid');
      await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  return idp;
}
