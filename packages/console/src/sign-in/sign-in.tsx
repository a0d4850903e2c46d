import { useState, type FormEvent } from 'react';
import { post } from '../api/client.ts';
import type { SignedIn } from '../api/types.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Field } from '../components/field.tsx';
import { useSession } from '../session.tsx';
import { SecondFactorStep } from './second-factor-step.tsx';
import { SsoSignIn } from './sso-sign-in.tsx';

/**
 * The sign-in flow: password, then the second factor (or its enrolment, when the tenant requires
 * one and the operator has none). The session cookie is set by the server; the page keeps only
 * the CSRF token, in memory.
 */
export function SignIn() {
  const { state } = useSession();
  if (state.status === 'signed-in') return <SecondFactorStep info={state.info} />;
  return <PasswordStep />;
}

function PasswordStep() {
  const { refresh, adoptCsrf } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const signedIn = await post<SignedIn>('/v1/auth/login', { email, password });
      adoptCsrf(signedIn.csrf_token);
      setPassword('');
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to Sealpost</h1>
      <form onSubmit={(e) => void submit(e)} className="card stack" aria-label="Password sign-in">
        <ErrorBanner error={error} title="Sign-in refused" />
        <Field label="E-mail" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Field label="Password" type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <SsoSignIn />
    </main>
  );
}
