import QRCode from 'qrcode';
import { useState, type FormEvent } from 'react';
import { post } from '../api/client.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Field } from '../components/field.tsx';
import { CopyButton } from '../components/copy-button.tsx';

export interface Enrolled {
  readonly recovery_codes: readonly string[];
  /** Present when enrolment completed the session's second factor (the session was rotated). */
  readonly csrf_token?: string;
}

/**
 * Adds an authenticator app: the server makes the secret, the page shows it as a QR code (a
 * data: image drawn here, so the secret never leaves for a QR service) and as text, and the
 * first code confirms it.
 */
export function TotpEnrolment({ onEnrolled }: { readonly onEnrolled: (enrolled: Enrolled) => void }) {
  const [started, setStarted] = useState<{ secret: string; qr: string }>();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const start = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const enrolment = await post<{ secret: string; otpauth_uri: string }>('/v1/auth/totp/enrolment');
      setStarted({ secret: enrolment.secret, qr: await QRCode.toDataURL(enrolment.otpauth_uri, { margin: 1, width: 200 }) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const confirm = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onEnrolled(await post<Enrolled>('/v1/auth/totp/confirmation', { totp: code.trim() }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!started) {
    return (
      <div className="stack">
        <ErrorBanner error={error} />
        <button type="button" onClick={() => void start()} disabled={busy}>
          Set up an authenticator app
        </button>
      </div>
    );
  }
  return (
    <form className="stack" onSubmit={(e) => void confirm(e)} aria-label="Authenticator app enrolment">
      <ErrorBanner error={error} title="Code refused" />
      <p>Scan this code with your authenticator app, or enter the secret by hand.</p>
      <img className="qr" src={started.qr} alt="QR code holding your new authenticator secret" width={200} height={200} />
      <p>
        Secret: <code className="secret">{started.secret}</code> <CopyButton text={started.secret} label="Copy secret" />
      </p>
      <Field label="First code from the app" name="totp-confirm" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required value={code} onChange={(e) => setCode(e.target.value)} />
      <button type="submit" className="button-primary" disabled={busy}>
        Confirm the authenticator
      </button>
    </form>
  );
}
