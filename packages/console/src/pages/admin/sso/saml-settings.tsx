import { useEffect, useState, type FormEvent } from 'react';
import { api, del, get } from '../../../api/client.ts';
import { ConfirmDialog } from '../../../components/confirm-dialog.tsx';
import { ErrorBanner } from '../../../components/error-banner.tsx';
import { Field } from '../../../components/field.tsx';
import { useLoad } from '../../../components/use-load.ts';
import { CopyFact, TextAreaField, settingOrNone, when } from './sso-shared.tsx';

/** `GET/PUT /v1/sso/saml` (src/identity/sso/sso-config.routes.ts). */
interface SamlSetting {
  readonly idp_entity_id: string;
  readonly idp_sso_url: string;
  readonly idp_certificates: readonly string[];
  readonly sp_entity_id?: string;
  readonly acs_url: string;
  readonly mfa_authn_contexts?: readonly string[];
  readonly updated_at: string | null;
}

interface Draft {
  idpEntityId: string;
  idpSsoUrl: string;
  certificates: string;
  contexts: string;
}

const NEW_DRAFT: Draft = { idpEntityId: '', idpSsoUrl: '', certificates: '', contexts: '' };

const draftOf = (s: SamlSetting): Draft => ({
  idpEntityId: s.idp_entity_id,
  idpSsoUrl: s.idp_sso_url,
  certificates: s.idp_certificates.join('\n\n'),
  contexts: (s.mfa_authn_contexts ?? []).join('\n'),
});

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM blocks pasted one after the other; text without any is sent whole, for the server to refuse precisely. */
function certificatesOf(text: string): string[] {
  const blocks = text.match(PEM_BLOCK);
  if (blocks) return blocks;
  return text.trim() === '' ? [] : [text.trim()];
}

/** The SP metadata sits beside the ACS URL (`/v1/auth/saml/<tenant>/acs` → `/metadata`, src/identity/sso/sso-login.routes.ts). */
const metadataUrlOf = (acsUrl: string): string => acsUrl.replace(/\/acs$/, '/metadata');

/** The tenant's SAML 2.0 IdP: everyone reads it, owners change it. */
export function SamlSettings({ owner }: { readonly owner: boolean }) {
  const loaded = useLoad((signal) => settingOrNone(get<SamlSetting>('/v1/sso/saml', undefined, signal)), []);
  const [setting, setSetting] = useState<SamlSetting | null>();
  const [draft, setDraft] = useState<Draft>(NEW_DRAFT);
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
      const saved = await api<SamlSetting>('PUT', '/v1/sso/saml', {
        body: {
          idp_entity_id: draft.idpEntityId.trim(),
          idp_sso_url: draft.idpSsoUrl.trim(),
          idp_certificates: certificatesOf(draft.certificates),
          // A replacement keeps the SP entity id the IdP already knows (the API would fall back to its default).
          ...(setting?.sp_entity_id ? { sp_entity_id: setting.sp_entity_id } : {}),
          // URIs: one a line (a comma may be part of one).
          mfa_authn_contexts: draft.contexts.split(/\s+/).filter((v) => v !== ''),
        },
      });
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
      await del('/v1/sso/saml');
      setSetting(null);
      setDraft(NEW_DRAFT);
      setDone('SAML removed.');
    } catch (err) {
      setError(err);
    }
  };

  if (loaded.status === 'error') return <ErrorBanner error={loaded.error} title="The SAML setting could not be read" />;
  if (setting === undefined) return <p role="status">Loading…</p>;
  return (
    <div className="card stack">
      <p className="small muted setting-state">{setting ? <>Set up, last changed {when(setting.updated_at)}.</> : 'Not set up: members cannot sign in with SAML.'}</p>
      {setting ? (
        <dl className="facts">
          {setting.sp_entity_id ? <CopyFact term="SP entity id" value={setting.sp_entity_id} copyLabel="Copy SP entity id" /> : null}
          <CopyFact term="ACS URL" value={setting.acs_url} copyLabel="Copy ACS URL" />
          <CopyFact term="Metadata URL (give it to the IdP)" value={metadataUrlOf(setting.acs_url)} copyLabel="Copy metadata URL" />
        </dl>
      ) : (
        <p className="small muted">The SP entity id, ACS URL and metadata URL for the IdP are shown here once the setting is saved.</p>
      )}
      {owner || setting ? (
        <form className="stack" aria-label="SAML" onSubmit={(e) => void save(e)}>
          <ErrorBanner error={error} title="The SAML setting was not changed" />
          <fieldset className="plain stack" disabled={!owner}>
            <Field label="IdP entity id" required maxLength={300} value={draft.idpEntityId} onChange={(e) => setDraft({ ...draft, idpEntityId: e.target.value })} />
            <Field label="IdP SSO URL" type="url" required maxLength={300} placeholder="https://idp.example.com/sso/saml" value={draft.idpSsoUrl} onChange={(e) => setDraft({ ...draft, idpSsoUrl: e.target.value })} hint="https:// only." />
            <TextAreaField
              label="IdP certificates (PEM)"
              required
              spellCheck={false}
              value={draft.certificates}
              onChange={(e) => setDraft({ ...draft, certificates: e.target.value })}
              hint="Paste 1 to 4 certificates, one after the other (the next one too during the IdP's key rollover). The assertion must be signed by one of them."
            />
            <TextAreaField
              label="AuthnContextClassRef values that count as MFA"
              className="short"
              spellCheck={false}
              value={draft.contexts}
              onChange={(e) => setDraft({ ...draft, contexts: e.target.value })}
              hint="One a line, e.g. https://refeds.org/profile/mfa. Empty: Sealpost always asks for its own second factor."
            />
          </fieldset>
          {owner ? (
            <div className="actions">
              <button type="submit" className="button-primary">
                Save SAML
              </button>
              {setting ? (
                <button type="button" className="button-danger" onClick={() => setRemoving(true)}>
                  Remove SAML
                </button>
              ) : null}
            </div>
          ) : null}
          {done ? <p role="status" className="small">{done}</p> : null}
        </form>
      ) : null}
      <ConfirmDialog open={removing} title="Remove SAML?" confirmLabel="Remove" danger onConfirm={() => void remove()} onCancel={() => setRemoving(false)}>
        <p>Members can no longer sign in through this IdP.</p>
      </ConfirmDialog>
    </div>
  );
}
