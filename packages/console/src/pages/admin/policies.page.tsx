import { useEffect, useState, type FormEvent } from 'react';
import { api, get } from '../../api/client.ts';
import type { Role } from '../../api/types.ts';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { SelectField } from '../../components/field.tsx';
import { useLoad } from '../../components/use-load.ts';
import { Link } from '../../router.tsx';
import { useSession } from '../../session.tsx';

/** `GET/PUT /v1/policies` (src/identity/policies/policy.routes.ts). */
interface Policy {
  readonly enforce_2fa: boolean;
  readonly webauthn_only: boolean;
  readonly sso_only: boolean;
  readonly sso_default_role: Role;
  readonly updated_at: string | null;
}

const RULES = [
  { name: 'enforce_2fa', label: 'Require a second factor', hint: 'Members without one must enrol at their next sign-in.' },
  { name: 'webauthn_only', label: 'Security keys and passkeys only', hint: 'Authenticator-app codes no longer count as a second factor.' },
  { name: 'sso_only', label: 'Single sign-on only', hint: 'Passwords stop working; members sign in through the tenant\'s identity provider.' },
] as const;

/** The tenant's security policy: everyone may read it, only owners change it (policies:manage). */
export default function PoliciesPage() {
  const { can } = useSession();
  const owner = can('policies:manage');
  const loaded = useLoad((signal) => get<Policy>('/v1/policies', undefined, signal), []);
  const [draft, setDraft] = useState<Policy>();
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (loaded.status === 'ready') setDraft(loaded.value);
  }, [loaded.status === 'ready' ? loaded.value : undefined]);

  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!draft) return;
    setError(undefined);
    setSaved(false);
    try {
      const { enforce_2fa, webauthn_only, sso_only, sso_default_role } = draft;
      setDraft(await api<Policy>('PUT', '/v1/policies', { body: { enforce_2fa, webauthn_only, sso_only, sso_default_role } }));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="admin">
      <h1>Security policy</h1>
      {!owner ? <p className="banner banner-warn">Only the tenant's owners can change the security policy.</p> : null}
      {loaded.status === 'error' ? <ErrorBanner error={loaded.error} /> : null}
      {loaded.status === 'loading' ? <p role="status">Loading…</p> : null}
      {draft ? (
        <form className="card stack" onSubmit={(e) => void save(e)}>
          <ErrorBanner error={error} title="The policy was not changed" />
          {RULES.map((rule) => (
            <label key={rule.name} className="toggle">
              <input type="checkbox" disabled={!owner} checked={draft[rule.name]} onChange={(e) => setDraft({ ...draft, [rule.name]: e.target.checked })} />
              <span>
                <strong>{rule.label}</strong>
                <br />
                <span className="small muted">{rule.hint}</span>
              </span>
            </label>
          ))}
          <SelectField
            label="Role of people who first sign in through SSO"
            disabled={!owner}
            value={draft.sso_default_role}
            onChange={(e) => setDraft({ ...draft, sso_default_role: e.target.value as Role })}
            options={(['viewer', 'developer', 'admin'] as const).map((r) => ({ value: r, label: r }))}
          />
          <p className="small muted">
            Whether Sealpost asks SSO sign-ins for its own second factor is part of each identity provider's settings (its MFA rule): see{' '}
            <Link to="/sso">Single sign-on</Link>.
          </p>
          <p className="small muted">Last changed: {draft.updated_at ? new Date(draft.updated_at).toLocaleString() : 'never'}</p>
          {owner ? (
            <div className="actions">
              <button type="submit" className="button-primary">
                Save policy
              </button>
              {saved ? <span role="status" className="small">Saved.</span> : null}
            </div>
          ) : null}
        </form>
      ) : null}
    </section>
  );
}
