import { CopyButton } from '../components/copy-button.tsx';

/** Recovery codes, shown this once: the server keeps only their hashes. */
export function RecoveryCodes({ codes, onDone }: { readonly codes: readonly string[]; readonly onDone: () => void }) {
  return (
    <section className="card stack" aria-labelledby="recovery-title">
      <h2 id="recovery-title">Save your recovery codes</h2>
      <p>
        Each code signs you in once if you lose your authenticator. <strong>They are shown only now</strong>: store them in your password manager.
      </p>
      <ul className="codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <CopyButton text={codes.join('\n')} label="Copy all codes" />
      <div>
        <button type="button" className="button-primary" onClick={onDone}>
          I have saved them
        </button>
      </div>
    </section>
  );
}
