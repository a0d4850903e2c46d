import { useSession } from '../../../session.tsx';
import { OidcSettings } from './oidc-settings.tsx';
import { SamlSettings } from './saml-settings.tsx';
import { SsoDomains } from './sso-domains.tsx';

/**
 * Single sign-on: the tenant's IdPs (OpenID Connect, SAML) and the e-mail domains they may sign in.
 * Everyone reads it (policies:read); only owners change it (policies:manage), and the API refuses
 * anyone else whatever this page shows.
 */
export default function SsoPage() {
  const { can } = useSession();
  const owner = can('policies:manage');
  return (
    <section className="admin">
      <h1>Single sign-on</h1>
      {!owner ? <p className="banner banner-warn">Only owners change SSO: you see the settings read-only.</p> : null}
      <h2>E-mail domains</h2>
      <SsoDomains owner={owner} />
      <h2>OpenID Connect</h2>
      <OidcSettings owner={owner} />
      <h2>SAML 2.0</h2>
      <SamlSettings owner={owner} />
    </section>
  );
}
