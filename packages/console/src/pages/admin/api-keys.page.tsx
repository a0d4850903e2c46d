import { useState, type FormEvent } from 'react';
import { del, get, post } from '../../api/client.ts';
import type { Permission } from '../../api/types.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { CopyButton } from '../../components/copy-button.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { Field } from '../../components/field.tsx';
import { Table } from '../../components/table.tsx';
import { useLoad } from '../../components/use-load.ts';
import { useSession } from '../../session.tsx';

/** Mirrors src/identity/scopes.ts: each scope is the permission of the same name. */
const SCOPES = ['payloads:write', 'payloads:read', 'destinations:manage', 'keys:manage', 'audit:read'] as const satisfies readonly Permission[];
type Scope = (typeof SCOPES)[number];

/** `GET /v1/api-keys` (src/identity/api-key.routes.ts): never the secret. */
interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly scopes: readonly Scope[];
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
  readonly age_warning: boolean;
  readonly expiry_warning: boolean;
}
interface Issued extends ApiKey {
  readonly api_key: string;
}

const when = (t: string | null, none = '—'): string => (t ? new Date(t).toLocaleString() : none);

function stateOf(k: ApiKey): { label: string; tone: string } {
  if (k.revoked_at && Date.parse(k.revoked_at) <= Date.now()) return { label: 'revoked', tone: 'status-bad' };
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return { label: 'expired', tone: 'status-bad' };
  if (k.revoked_at) return { label: `valid until ${when(k.revoked_at)}`, tone: 'status-wait' };
  if (k.age_warning) return { label: 'older than a year: rotate', tone: 'status-wait' };
  if (k.expiry_warning) return { label: `expires ${when(k.expires_at)}`, tone: 'status-wait' };
  return { label: 'active', tone: 'status-ok' };
}

/** The secret of a key just created or rotated: shown this once, with a copy button. */
function OneTimeSecret({ issued, onDone }: { readonly issued: Issued; readonly onDone: () => void }) {
  return (
    <div className="banner banner-warn stack" role="status">
      <strong>Copy the new key “{issued.name}” now: you will not see it again.</strong>
      <code className="secret" aria-label="New API key">
        {issued.api_key}
      </code>
      <div className="actions">
        <CopyButton text={issued.api_key} label="Copy key" />
        <button type="button" className="button-small" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

/** API keys: scopes, age and expiry warnings, create, rotate with an overlap, revoke. */
export default function ApiKeysPage() {
  const { can } = useSession();
  const list = useLoad((signal) => get<{ data: readonly ApiKey[] }>('/v1/api-keys', undefined, signal), []);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<readonly Scope[]>([]);
  const [expires, setExpires] = useState('');
  const [issued, setIssued] = useState<Issued>();
  const [error, setError] = useState<unknown>();
  const [rotating, setRotating] = useState<ApiKey>();
  const [overlap, setOverlap] = useState('7');
  const [revoking, setRevoking] = useState<ApiKey>();
  // A session may put on a key only what its own role holds (the server refuses the rest).
  const grantable = SCOPES.filter((s) => can(s));

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      const expires_at = expires ? new Date(`${expires}T00:00:00Z`).toISOString() : null;
      setIssued(await post<Issued>('/v1/api-keys', { name, scopes, expires_at }));
      setName('');
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const rotate = async (key: ApiKey): Promise<void> => {
    setRotating(undefined);
    setError(undefined);
    try {
      setIssued(await post<Issued>(`/v1/api-keys/${key.id}/rotate`, { overlap_days: Number(overlap) }));
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (key: ApiKey): Promise<void> => {
    setRevoking(undefined);
    setError(undefined);
    try {
      await del(`/v1/api-keys/${key.id}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const toggleScope = (scope: Scope, on: boolean): void => setScopes((s) => (on ? [...s, scope] : s.filter((x) => x !== scope)));

  return (
    <section className="admin">
      <h1>API keys</h1>
      {issued ? <OneTimeSecret issued={issued} onDone={() => setIssued(undefined)} /> : null}
      <h2>New key</h2>
      <form className="card stack" onSubmit={(e) => void create(e)}>
        <Field label="Name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} hint="What uses it, e.g. “billing service”." />
        <fieldset className="checks">
          <legend>Scopes</legend>
          {grantable.map((s) => (
            <label key={s}>
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => toggleScope(s, e.target.checked)} /> <code>{s}</code>
            </label>
          ))}
        </fieldset>
        <Field label="Expires on (optional)" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        <div className="actions">
          <button type="submit" className="button-primary" disabled={scopes.length === 0}>
            Create key
          </button>
        </div>
      </form>
      <h2>Keys</h2>
      <ErrorBanner error={error} />
      {list.status === 'error' ? <ErrorBanner error={list.error} /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' ? (
        <Table
          caption="API keys"
          rows={list.value.data}
          rowKey={(k) => k.id}
          empty="No API keys."
          columns={[
            { header: 'Name', cell: (k) => <><strong>{k.name}</strong><br /><code className="small">{k.prefix}…</code></> },
            { header: 'Scopes', cell: (k) => k.scopes.join(', '), wide: true },
            { header: 'State', cell: (k) => { const s = stateOf(k); return <span className={`status ${s.tone}`}>{s.label}</span>; } },
            { header: 'Created', cell: (k) => when(k.created_at), wide: true },
            { header: 'Last used', cell: (k) => when(k.last_used_at, 'never'), wide: true },
            {
              header: 'Actions',
              cell: (k) =>
                k.revoked_at ? null : (
                  <span className="row">
                    <button type="button" className="button-small" onClick={() => setRotating(k)}>
                      Rotate
                    </button>
                    <button type="button" className="button-small button-danger" onClick={() => setRevoking(k)}>
                      Revoke
                    </button>
                  </span>
                ),
            },
          ]}
        />
      ) : null}
      <ConfirmDialog open={rotating !== undefined} title={`Rotate “${rotating?.name ?? ''}”?`} confirmLabel="Rotate" onConfirm={() => rotating && void rotate(rotating)} onCancel={() => setRotating(undefined)}>
        <p>A new key with the same scopes is made. The old one keeps working for the overlap, then stops.</p>
        <Field label="Overlap in days" type="number" min={0} max={90} value={overlap} onChange={(e) => setOverlap(e.target.value)} />
      </ConfirmDialog>
      <ConfirmDialog open={revoking !== undefined} title={`Revoke “${revoking?.name ?? ''}”?`} confirmLabel="Revoke" danger onConfirm={() => revoking && void revoke(revoking)} onCancel={() => setRevoking(undefined)}>
        <p>It stops working at once.</p>
      </ConfirmDialog>
    </section>
  );
}
