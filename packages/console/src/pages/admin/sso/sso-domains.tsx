import { useState, type FormEvent } from 'react';
import { del, get, post } from '../../../api/client.ts';
import { ConfirmDialog } from '../../../components/confirm-dialog.tsx';
import { ErrorBanner } from '../../../components/error-banner.tsx';
import { Field } from '../../../components/field.tsx';
import { useLoad } from '../../../components/use-load.ts';
import { CopyFact, when } from './sso-shared.tsx';

/** `GET/POST /v1/sso/domains` (src/identity/sso/sso-config.routes.ts). */
interface SsoDomain {
  readonly domain: string;
  readonly verified: boolean;
  readonly txt_name: string;
  readonly txt_value: string;
  readonly created_at: string | null;
  readonly verified_at: string | null;
}

/** The e-mail domains an SSO login may sign in: claimed, proven by a DNS TXT record, removed. */
export function SsoDomains({ owner }: { readonly owner: boolean }) {
  const list = useLoad((signal) => get<{ data: readonly SsoDomain[] }>('/v1/sso/domains', undefined, signal), []);
  const [domain, setDomain] = useState('');
  const [error, setError] = useState<{ title: string; error: unknown }>();
  const [done, setDone] = useState('');
  const [removing, setRemoving] = useState<SsoDomain>();

  const run = async (title: string, action: () => Promise<string>): Promise<void> => {
    setError(undefined);
    setDone('');
    try {
      setDone(await action());
      list.reload();
    } catch (err) {
      setError({ title, error: err });
    }
  };
  const add = (e: FormEvent): void => {
    e.preventDefault();
    void run('The domain was not added', async () => {
      const added = await post<SsoDomain>('/v1/sso/domains', { domain: domain.trim() });
      setDomain('');
      return `${added.domain} added: publish its TXT record, then verify it.`;
    });
  };
  const verify = (d: SsoDomain): void =>
    void run(`${d.domain} was not verified`, async () => {
      await post<SsoDomain>(`/v1/sso/domains/${encodeURIComponent(d.domain)}/verify`);
      return `${d.domain} is verified.`;
    });
  const remove = (d: SsoDomain): void => {
    setRemoving(undefined);
    void run(`${d.domain} was not removed`, async () => {
      await del(`/v1/sso/domains/${encodeURIComponent(d.domain)}`);
      return `${d.domain} removed.`;
    });
  };

  return (
    <div className="stack">
      <p className="small muted">An SSO sign-in is accepted only for an e-mail address in one of these domains, once verified.</p>
      {owner ? (
        <form className="card row" aria-label="Add a domain" onSubmit={add}>
          <Field label="Domain" required maxLength={254} autoComplete="off" placeholder="acme.example" value={domain} onChange={(e) => setDomain(e.target.value)} />
          <button type="submit" className="button-primary">
            Add domain
          </button>
        </form>
      ) : null}
      {error ? <ErrorBanner error={error.error} title={error.title} /> : null}
      {done ? <p role="status" className="small">{done}</p> : null}
      {list.status === 'error' ? <ErrorBanner error={list.error} title="The domains could not be read" /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' && list.value.data.length === 0 ? <p className="muted">No domains yet.</p> : null}
      {list.status === 'ready' && list.value.data.length > 0 ? (
        <ul className="list-plain stack sso-domains" aria-label="SSO domains">
          {list.value.data.map((d) => (
            <li key={d.domain} className="card stack">
              <div className="row spread">
                <h3 className="break">{d.domain}</h3>
                <span className={`status ${d.verified ? 'status-ok' : 'status-wait'}`}>{d.verified ? `verified ${when(d.verified_at)}` : 'not verified'}</span>
              </div>
              {d.verified ? null : (
                <>
                  <p className="small">Create this DNS TXT record, then verify:</p>
                  <dl className="facts">
                    <CopyFact term="TXT name" value={d.txt_name} copyLabel="Copy TXT name" />
                    <CopyFact term="TXT value" value={d.txt_value} copyLabel="Copy TXT value" />
                  </dl>
                </>
              )}
              {owner ? (
                <div className="actions">
                  {d.verified ? null : (
                    <button type="button" className="button-small" onClick={() => verify(d)}>
                      Verify now
                    </button>
                  )}
                  <button type="button" className="button-small button-danger" onClick={() => setRemoving(d)}>
                    Remove domain
                  </button>
                </div>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      <ConfirmDialog open={removing !== undefined} title={`Remove ${removing?.domain ?? ''}?`} confirmLabel="Remove" danger onConfirm={() => removing && remove(removing)} onCancel={() => setRemoving(undefined)}>
        <p>SSO sign-ins with addresses in this domain stop being accepted. Adding it again needs a new TXT record.</p>
      </ConfirmDialog>
    </div>
  );
}
