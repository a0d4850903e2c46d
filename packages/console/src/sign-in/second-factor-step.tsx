import { useState, type FormEvent } from 'react';
import { post } from '../api/client.ts';
import type { SessionInfo } from '../api/types.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Field } from '../components/field.tsx';
import { useSession } from '../session.tsx';

interface Rotated {
  readonly csrf_token: string;
}

/** The session exists but its second factor is not done yet: a TOTP code or a recovery code. */
export function SecondFactorStep({ info }: { readonly info: SessionInfo }) {
  const { refresh, adoptCsrf, signOut } = useSession();
  const [mode, setMode] = useState<'totp' | 'recovery'>('totp');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const done = await post<Rotated>('/v1/auth/second-factor', mode === 'totp' ? { totp: code.trim() } : { recovery_code: code.trim() });
      adoptCsrf(done.csrf_token);
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <h1>Second factor</h1>
      <p className="muted">Signed in as {info.operator.email}.</p>
      <form onSubmit={(e) => void submit(e)} className="card stack">
        <ErrorBanner error={error} title="Code refused" />
        {mode === 'totp' ? (
          <Field label="Code from your authenticator app" name="totp" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required value={code} onChange={(e) => setCode(e.target.value)} />
        ) : (
          <Field label="Recovery code" name="recovery_code" autoComplete="off" required value={code} onChange={(e) => setCode(e.target.value)} />
        )}
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
        <button type="button" className="button-link" onClick={() => { setMode(mode === 'totp' ? 'recovery' : 'totp'); setCode(''); }}>
          {mode === 'totp' ? 'Use a recovery code instead' : 'Use an authenticator code instead'}
        </button>
        <button type="button" className="button-link" onClick={() => void signOut()}>
          Cancel and sign out
        </button>
      </form>
    </main>
  );
}
