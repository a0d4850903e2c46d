import { useState, type FormEvent } from 'react';
import { Field } from '../components/field.tsx';
import { ReceiptOutcomeView } from './receipt-outcome.tsx';
import { verifyReceiptText, type ReceiptOutcome } from './receipt-verify.ts';

/**
 * `/verify`, public: a receiver or vendor pastes a receipt and checks it in this browser against
 * the keys the receipt's tenant publishes. Nothing is sent to the server but the key lookup.
 */
export function VerifyPage() {
  const [text, setText] = useState('');
  const [tenant, setTenant] = useState('');
  const [outcome, setOutcome] = useState<ReceiptOutcome | 'checking'>();
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setOutcome('checking');
    setOutcome(await verifyReceiptText(text, { expectedTenant: tenant.trim() || undefined }));
  };
  return (
    <main id="main" className="verify">
      <h1>Verify a Sealpost receipt</h1>
      <p>
        Paste a receipt (the JSON document Sealpost returned when it accepted or delivered a payload). Its Ed25519 signature is checked here, in your browser, against
        the signing keys the receipt&apos;s tenant publishes at <code>/.well-known/sealpost/tenants/&lt;tenant&gt;/jwks.json</code>.
      </p>
      <form className="card stack" onSubmit={(e) => void submit(e)} aria-label="Verify a receipt">
        <div className="field">
          <label htmlFor="receipt-text">Receipt (JSON)</label>
          <textarea id="receipt-text" required spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} />
        </div>
        <Field label="Expected tenant (optional)" placeholder="ten_…" value={tenant} onChange={(e) => setTenant(e.target.value)} hint="Fill it in to refuse a receipt of any other tenant." />
        <button type="submit" className="button-primary" disabled={outcome === 'checking'}>
          Verify
        </button>
      </form>
      <ReceiptOutcomeView outcome={outcome} />
      <p className="muted small">
        Offline, <code>@sealpost/verify</code> (Node) or <code>openssl pkeyutl -verify</code> check the same signature.
      </p>
    </main>
  );
}
