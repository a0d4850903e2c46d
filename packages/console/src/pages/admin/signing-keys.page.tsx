import { get } from '../../api/client.ts';
import { CopyButton } from '../../components/copy-button.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { useLoad } from '../../components/use-load.ts';

/** `GET /v1/signing-keys` (src/receipts/signing-key.routes.ts). */
interface SigningKeys {
  readonly tenant: string;
  readonly current_kid: string;
  readonly previous_kid: string | null;
  readonly next_rotation_at: string;
  readonly jwks_url: string;
  readonly jwks_archive_url: string;
}

/** The tenant's signing keys: what signs now, what it replaced, when it rotates, where receivers fetch the public keys. */
export default function SigningKeysPage() {
  const keys = useLoad((signal) => get<SigningKeys>('/v1/signing-keys', undefined, signal), []);
  return (
    <section className="admin">
      <h1>Signing keys</h1>
      {keys.status === 'error' ? <ErrorBanner error={keys.error} /> : null}
      {keys.status === 'loading' ? <p role="status">Loading…</p> : null}
      {keys.status === 'ready' ? (
        <div className="card stack">
          <dl className="facts">
            <dt>Current key</dt>
            <dd>
              <code>{keys.value.current_kid}</code>
            </dd>
            <dt>Previous key</dt>
            <dd>{keys.value.previous_kid ? <code>{keys.value.previous_kid}</code> : <span className="muted">none still valid</span>}</dd>
            <dt>Next rotation</dt>
            <dd>{new Date(keys.value.next_rotation_at).toLocaleString()}</dd>
            <dt>JWKS URL</dt>
            <dd>
              <code className="break">{keys.value.jwks_url}</code> <CopyButton text={keys.value.jwks_url} label="Copy JWKS URL" />
            </dd>
            <dt>Retired keys</dt>
            <dd>
              <code className="break">{keys.value.jwks_archive_url}</code>
            </dd>
          </dl>
          <p className="small muted">
            Give the JWKS URL to your receivers: it lists this tenant's keys only, so a request signed for another tenant never verifies. Keys rotate every 90 days; a
            replaced key stays valid 90 days more.
          </p>
        </div>
      ) : null}
    </section>
  );
}
