import { useState } from 'react';
import { del, get, post } from '../api/client.ts';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Table } from '../components/table.tsx';
import { useLoad } from '../components/use-load.ts';
import { useSession } from '../session.tsx';
import { RecoveryCodes } from '../sign-in/recovery-codes.tsx';
import { TotpEnrolment, type Enrolled } from '../sign-in/totp-enrolment.tsx';
import { WebauthnEnrolment } from '../sign-in/webauthn-enrolment.tsx';

interface SessionRow {
  readonly id: string;
  readonly method: string;
  readonly second_factor_satisfied: boolean;
  readonly created_at: string;
  readonly last_seen_at: string;
  readonly current: boolean;
}

/** One's own account: second factors, recovery codes (shown once), the sessions signed in, each revocable. */
export default function AccountPage() {
  const { state, refresh, signOut } = useSession();
  const sessions = useLoad((signal) => get<{ data: SessionRow[] }>('/v1/auth/sessions', undefined, signal), []);
  const [codes, setCodes] = useState<readonly string[]>();
  const [revoking, setRevoking] = useState<SessionRow>();
  const [error, setError] = useState<unknown>();
  if (state.status !== 'signed-in') return null;
  const { operator, second_factors: factors, policy } = state.info;

  const enrolled = (result: Enrolled): void => {
    setCodes(result.recovery_codes);
    void refresh();
  };
  const regenerate = async (): Promise<void> => {
    setError(undefined);
    try {
      setCodes((await post<{ recovery_codes: string[] }>('/v1/auth/recovery-codes')).recovery_codes);
      await refresh();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (row: SessionRow): Promise<void> => {
    setRevoking(undefined);
    setError(undefined);
    try {
      await del(`/v1/auth/sessions/${encodeURIComponent(row.id)}`);
      if (row.current) await signOut().catch(() => undefined);
      else sessions.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="stack">
      <h1>Account security</h1>
      <ErrorBanner error={error} />
      {codes ? <RecoveryCodes codes={codes} onDone={() => setCodes(undefined)} /> : null}
      <dl className="facts card">
        <dt>E-mail</dt>
        <dd>{operator.email}</dd>
        <dt>Role</dt>
        <dd className="role">{operator.role}</dd>
        <dt>Authenticator app</dt>
        <dd>{factors.totp ? 'Enrolled' : 'Not enrolled'}</dd>
        <dt>Security keys and passkeys</dt>
        <dd>{factors.webauthn}</dd>
        <dt>Recovery codes left</dt>
        <dd>{factors.recovery_codes_left}</dd>
      </dl>

      <h2>Add a second factor</h2>
      <div className="card stack">
        {factors.totp || policy.webauthn_only ? null : <TotpEnrolment onEnrolled={enrolled} />}
        <WebauthnEnrolment onEnrolled={enrolled} />
        {factors.totp || factors.webauthn > 0 ? (
          <button type="button" onClick={() => void regenerate()}>
            Make new recovery codes
          </button>
        ) : null}
      </div>

      <h2>Sessions</h2>
      {sessions.status === 'error' ? <ErrorBanner error={sessions.error} /> : null}
      {sessions.status === 'ready' ? (
        <Table
          caption="Your sessions"
          rows={sessions.value.data}
          rowKey={(s) => s.id}
          columns={[
            { header: 'Signed in', cell: (s) => new Date(s.created_at).toLocaleString() },
            { header: 'Last seen', cell: (s) => new Date(s.last_seen_at).toLocaleString(), wide: true },
            { header: 'Method', cell: (s) => s.method },
            { header: 'Session', cell: (s) => (s.current ? <strong>This session</strong> : <code>{s.id}</code>), wide: true },
            {
              header: 'Action',
              cell: (s) => (
                <button type="button" className="button-small" onClick={() => setRevoking(s)} aria-label={s.current ? 'Revoke this session (signs you out)' : `Revoke session ${s.id}`}>
                  Revoke
                </button>
              ),
            },
          ]}
        />
      ) : null}
      <ConfirmDialog
        open={revoking !== undefined}
        title="Revoke this session?"
        confirmLabel="Revoke"
        danger
        onCancel={() => setRevoking(undefined)}
        onConfirm={() => revoking && void revoke(revoking)}
      >
        <p>{revoking?.current ? 'This is the session you are using: you will be signed out.' : 'The browser using it is signed out at its next request.'}</p>
      </ConfirmDialog>
    </section>
  );
}
