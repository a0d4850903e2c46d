import { startRegistration, type PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser';
import { useState } from 'react';
import { post } from '../api/client.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import type { Enrolled } from './totp-enrolment.tsx';

/** Adds a security key or passkey: the server's options (challenge bound to this session), the browser's ceremony, the server's check. */
export function WebauthnEnrolment({ onEnrolled }: { readonly onEnrolled: (enrolled: Enrolled) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const register = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const optionsJSON = await post<PublicKeyCredentialCreationOptionsJSON>('/v1/auth/webauthn/registration-options');
      const webauthn = await startRegistration({ optionsJSON });
      onEnrolled(await post<Enrolled>('/v1/auth/webauthn/registration', { webauthn }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <ErrorBanner error={error} title="The security key was not added" />
      <button type="button" onClick={() => void register()} disabled={busy}>
        Add a security key or passkey
      </button>
    </div>
  );
}
