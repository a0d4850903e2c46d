import { startAuthentication, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { useState, type FormEvent } from 'react';
import { post } from '../api/client.ts';
import type { SessionInfo } from '../api/types.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Field } from '../components/field.tsx';
import { useSession } from '../session.tsx';
import { RecoveryCodes } from './recovery-codes.tsx';
import { TotpEnrolment, type Enrolled } from './totp-enrolment.tsx';
import { WebauthnEnrolment } from './webauthn-enrolment.tsx';

interface Rotated {
  readonly csrf_token: string;
}

/**
 * The session exists but its second factor is not done yet: a TOTP code, a security key, or a
 * recovery code; or, for an operator with no factor yet, enrolment of one (then the recovery
 * codes, shown once).
 */
export function SecondFactorStep({ info }: { readonly info: SessionInfo }) {
  const { refresh, adoptCsrf, signOut } = useSession();
  const factors = info.second_factors;
  const hasFactor = factors.totp || factors.webauthn > 0;
  const [mode, setMode] = useState<'totp' | 'recovery'>(factors.totp ? 'totp' : 'recovery');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [codes, setCodes] = useState<readonly string[]>();

  const finish = async (work: () => Promise<Rotated>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      adoptCsrf((await work()).csrf_token);
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const submitCode = (event: FormEvent): void => {
    event.preventDefault();
    void finish(() => post<Rotated>('/v1/auth/second-factor', mode === 'totp' ? { totp: code.trim() } : { recovery_code: code.trim() }));
  };

  const useKey = (): void =>
    void finish(async () => {
      const optionsJSON = await post<PublicKeyCredentialRequestOptionsJSON>('/v1/auth/webauthn/authentication-options');
      const webauthn = await startAuthentication({ optionsJSON });
      return post<Rotated>('/v1/auth/second-factor', { webauthn });
    });

  // Enrolment completes the second factor; the codes stay on screen until the operator says they are saved.
  const enrolled = (result: Enrolled): void => {
    adoptCsrf(result.csrf_token);
    if (result.recovery_codes.length > 0) setCodes(result.recovery_codes);
    else void refresh();
  };

  if (codes) {
    return (
      <main id="main" className="sign-in">
        <h1>Second factor added</h1>
        <RecoveryCodes codes={codes} onDone={() => void refresh()} />
      </main>
    );
  }

  return (
    <main id="main" className="sign-in">
      <h1>{hasFactor ? 'Second factor' : 'Set up a second factor'}</h1>
      <p className="muted">Signed in as {info.operator.email}.</p>
      <ErrorBanner error={error} title="Second factor refused" />
      {hasFactor ? (
        <div className="stack">
          {factors.webauthn > 0 ? (
            <div className="card stack">
              <button type="button" className="button-primary" onClick={useKey} disabled={busy}>
                Use your security key or passkey
              </button>
            </div>
          ) : null}
          <form onSubmit={submitCode} className="card stack" aria-label="Second factor code">
            {mode === 'totp' ? (
              <Field label="Code from your authenticator app" name="totp" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required value={code} onChange={(e) => setCode(e.target.value)} />
            ) : (
              <Field label="Recovery code" name="recovery_code" autoComplete="off" required value={code} onChange={(e) => setCode(e.target.value)} />
            )}
            <button type="submit" className={factors.webauthn > 0 ? undefined : 'button-primary'} disabled={busy}>
              {busy ? 'Checking…' : 'Continue'}
            </button>
            {factors.totp ? (
              <button type="button" className="button-link" onClick={() => { setMode(mode === 'totp' ? 'recovery' : 'totp'); setCode(''); }}>
                {mode === 'totp' ? 'Use a recovery code instead' : 'Use an authenticator code instead'}
              </button>
            ) : null}
          </form>
        </div>
      ) : (
        <div className="card stack">
          <p>Your organisation requires a second factor. Add one to continue.</p>
          {info.policy.webauthn_only ? null : <TotpEnrolment onEnrolled={enrolled} />}
          <WebauthnEnrolment onEnrolled={enrolled} />
        </div>
      )}
      <p>
        <button type="button" className="button-link" onClick={() => void signOut()}>
          Cancel and sign out
        </button>
      </p>
    </main>
  );
}
