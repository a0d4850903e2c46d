import { useEffect, useState, type FormEvent } from 'react';
import { api, del, get } from '../../../api/client.ts';
import { ConfirmDialog } from '../../../components/confirm-dialog.tsx';
import { ErrorBanner } from '../../../components/error-banner.tsx';
import { Field } from '../../../components/field.tsx';
import { useLoad } from '../../../components/use-load.ts';
import { CopyFact, listOf, settingOrNone, when } from './sso-shared.tsx';

/** `GET/PUT /v1/sso/oidc` (src/identity/sso/sso-config.routes.ts): the client secret is write-only. */
interface OidcSetting {
  readonly issuer: string;
  readonly client_id: string;
  readonly client_secret_set: boolean;
  readonly scopes?: readonly string[];
  readonly mfa_amr?: readonly string[];
  readonly mfa_acr?: readonly string[];
  readonly redirect_uri: string;
  readonly updated_at: string | null;
}

/** The server always asks for these; the form shows only the scopes added to them. */
const REQUIRED_SCOPES = new Set(['openid', 'email']);

interface Draft {
  issuer: string;
  clientId: string;
  scopes: string;
  mfaAmr: string;
  mfaAcr: string;
}

// A new setting starts from the server's defaults (src/identity/sso/mfa-rule.ts), shown so the operator sees what counts.
const NEW_DRAFT: Draft = { issuer: '', clientId: '', scopes: 'profile', mfaAmr: 'mfa hwk otp', mfaAcr: '' };

const draftOf = (s: OidcSetting): Draft => ({
  issuer: s.issuer,
  clientId: s.client_id,
  scopes: (s.scopes ?? []).filter((x) => !REQUIRED_SCOPES.has(x)).join(' '),
  mfaAmr: (s.mfa_amr ?? []).join(' '),
  mfaAcr: (s.mfa_acr ?? []).join(' '),
});

/** The tenant's OpenID Connect IdP: everyone reads it, owners change it. */
export function OidcSettings({ owner }: { readonly owner: boolean }) {
  const loaded = useLoad((signal) => settingOrNone(get<OidcSetting>('/v1/sso/oidc', undefined, signal)), []);
  const [setting, setSetting] = useState<OidcSetting | null>();
  const [draft, setDraft] = useState<Draft>(NEW_DRAFT);
  // The new secret lives in this component's state only, and is dropped once sent.
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const [removing, setRemoving] = useState(false);
  useEffect(() => {
    if (loaded.status !== 'ready') return;
    setSetting(loaded.value);
    setDraft(loaded.value ? draftOf(loaded.value) : NEW_DRAFT);
  }, [loaded.status === 'ready' ? loaded.value : undefined]);

  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    setDone('');
    try {
      const saved = await api<OidcSetting>('PUT', '/v1/sso/oidc', {
        body: {
          issuer: draft.issuer.trim(),
          client_id: draft.clientId.trim(),
          // Empty keeps the stored secret (the API's rule for a replacement).
          ...(secret === '' ? {} : { client_secret: secret }),
          scopes: listOf(draft.scopes),
          mfa_amr: listOf(draft.mfaAmr),
          mfa_acr: listOf(draft.mfaAcr),
        },
      });
      setSecret('');
      setSetting(saved);
      setDraft(draftOf(saved));
      setDone('Saved.');
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (): Promise<void> => {
    setRemoving(false);
    setError(undefined);
    setDone('');
    try {
      await del('/v1/sso/oidc');
      setSetting(null);
      setDraft(NEW_DRAFT);
      setSecret('');
      setDone('OpenID Connect removed.');
    } catch (err) {
      setError(err);
    }
  };

  if (loaded.status === 'error') return <ErrorBanner error={loaded.error} title="The OpenID Connect setting could not be read" />;
  if (setting === undefined) return <p role="status">Loading…</p>;
  return (
    <div className="card stack">
      <p className="small muted setting-state">
        {setting ? <>Set up, last changed {when(setting.updated_at)}.</> : 'Not set up: members cannot sign in with OpenID Connect.'}
      </p>
      {setting ? (
        <dl className="facts">
          <CopyFact term="Redirect URI (register it at the IdP)" value={setting.redirect_uri} copyLabel="Copy redirect URI" />
        </dl>
      ) : (
        <p className="small muted">The redirect URI to register at the IdP is shown here once the setting is saved.</p>
      )}
      {owner || setting ? (
        <form className="stack" aria-label="OpenID Connect" onSubmit={(e) => void save(e)}>
          <ErrorBanner error={error} title="The OpenID Connect setting was not changed" />
          <fieldset className="plain stack" disabled={!owner}>
            <Field label="Issuer" type="url" required maxLength={300} placeholder="https://idp.example.com" value={draft.issuer} onChange={(e) => setDraft({ ...draft, issuer: e.target.value })} hint="The IdP's issuer identifier, https:// only." />
            <Field label="Client ID" required maxLength={128} autoComplete="off" value={draft.clientId} onChange={(e) => setDraft({ ...draft, clientId: e.target.value })} />
            <Field
              label="Client secret"
              type="password"
              autoComplete="off"
              maxLength={512}
              required={!setting?.client_secret_set}
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
              hint={!setting?.client_secret_set ? 'Required. Stored sealed and never shown again.' : owner ? 'A secret is set (never shown). Leave empty to keep it; type a new one to replace it.' : 'A secret is set (never shown).'}
            />
            <Field label="Extra scopes" maxLength={300} value={draft.scopes} onChange={(e) => setDraft({ ...draft, scopes: e.target.value })} hint="Separated by spaces; openid and email are always asked for." />
            <Field label="amr values that count as MFA (mfa_amr)" maxLength={200} value={draft.mfaAmr} onChange={(e) => setDraft({ ...draft, mfaAmr: e.target.value })} hint="Separated by spaces. Empty: no amr value counts, and Sealpost asks for its own second factor." />
            <Field label="acr values that count as MFA (mfa_acr)" maxLength={600} value={draft.mfaAcr} onChange={(e) => setDraft({ ...draft, mfaAcr: e.target.value })} hint="Separated by spaces; IdP-specific, none by default." />
          </fieldset>
          {owner ? (
            <div className="actions">
              <button type="submit" className="button-primary">
                Save OpenID Connect
              </button>
              {setting ? (
                <button type="button" className="button-danger" onClick={() => setRemoving(true)}>
                  Remove OpenID Connect
                </button>
              ) : null}
            </div>
          ) : null}
          {done ? <p role="status" className="small">{done}</p> : null}
        </form>
      ) : null}
      <ConfirmDialog open={removing} title="Remove OpenID Connect?" confirmLabel="Remove" danger onConfirm={() => void remove()} onCancel={() => setRemoving(false)}>
        <p>Members can no longer sign in through this IdP. The client secret is deleted.</p>
      </ConfirmDialog>
    </div>
  );
}
