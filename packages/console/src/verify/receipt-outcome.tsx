import { StatusBadge } from '../components/status-badge.tsx';
import type { ReceiptOutcome } from './receipt-verify.ts';

/** The result of a receipt check, announced to screen readers as it arrives. */
export function ReceiptOutcomeView({ outcome }: { readonly outcome: ReceiptOutcome | 'checking' | undefined }) {
  return (
    <div aria-live="polite">
      {outcome === 'checking' ? <p role="status">Checking…</p> : null}
      {outcome && outcome !== 'checking' && outcome.ok ? (
        <div className="banner banner-ok" role="status">
          <strong>
            <StatusBadge status="verified" /> Signature valid
          </strong>
          <p>
            {outcome.kind} receipt {outcome.id} for {outcome.messageId}, tenant {outcome.tenant}, signed by key {outcome.kid} at {outcome.issuedAt}.
          </p>
        </div>
      ) : null}
      {outcome && outcome !== 'checking' && !outcome.ok ? (
        <div className="banner banner-error" role="alert">
          <strong>Not verified</strong>
          <p>{outcome.reason}</p>
        </div>
      ) : null}
    </div>
  );
}
