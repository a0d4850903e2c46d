import { useSession } from '../session.tsx';

/** One's own account: second factors, recovery codes, sessions. */
export default function AccountPage() {
  const { state } = useSession();
  if (state.status !== 'signed-in') return null;
  const { operator, second_factors: factors } = state.info;
  return (
    <section>
      <h1>Account security</h1>
      <dl className="facts">
        <dt>E-mail</dt>
        <dd>{operator.email}</dd>
        <dt>Role</dt>
        <dd>{operator.role}</dd>
        <dt>Authenticator app</dt>
        <dd>{factors.totp ? 'enrolled' : 'not enrolled'}</dd>
        <dt>Security keys and passkeys</dt>
        <dd>{factors.webauthn}</dd>
        <dt>Recovery codes left</dt>
        <dd>{factors.recovery_codes_left}</dd>
      </dl>
    </section>
  );
}
