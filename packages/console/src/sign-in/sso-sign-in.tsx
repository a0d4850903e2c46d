import { useState, type FormEvent } from 'react';
import { Field } from '../components/field.tsx';
import { useRouter } from '../router.tsx';

const TENANT_ID = /^ten_[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * Single sign-on through the tenant's OIDC provider. The console cannot list a tenant's providers
 * without telling strangers which tenants exist, so the operator names the organisation (or
 * follows a `/console/?tenant=ten_…` link their admin shared); the server answers with the
 * provider's page, or a problem when the tenant has no OIDC sign-in.
 */
export function SsoSignIn() {
  const { location } = useRouter();
  const [tenant, setTenant] = useState(location.search.get('tenant') ?? '');
  const valid = TENANT_ID.test(tenant.trim());
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (!valid) return;
    // A top-level navigation: the IdP's page and its redirect back need the whole window.
    window.location.assign(`/v1/auth/oidc/${encodeURIComponent(tenant.trim())}/start`);
  };
  return (
    <form className="card stack" onSubmit={submit} aria-label="Single sign-on">
      <h2>Single sign-on</h2>
      <Field
        label="Organisation id"
        name="tenant"
        placeholder="ten_…"
        autoComplete="organization"
        value={tenant}
        onChange={(e) => setTenant(e.target.value)}
        aria-invalid={tenant !== '' && !valid}
        hint="Your administrator can give you a sign-in link that fills this in."
      />
      <button type="submit" disabled={!valid}>
        Continue with SSO
      </button>
    </form>
  );
}
