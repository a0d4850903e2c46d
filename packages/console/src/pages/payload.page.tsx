import { useState } from 'react';
import { get } from '../api/client.ts';
import { CopyButton } from '../components/copy-button.tsx';
import { ErrorBanner } from '../components/error-banner.tsx';
import { useLoad } from '../components/use-load.ts';
import { Link } from '../router.tsx';
import type { PageProps } from '../routes.tsx';
import { ReceiptOutcomeView } from '../verify/receipt-outcome.tsx';
import { verifyReceiptText, type ReceiptOutcome } from '../verify/receipt-verify.ts';
import { DeliveriesOf } from './deliveries-of.tsx';

interface Attachment {
  readonly id: string;
  readonly filename: string;
  readonly content_type: string;
  readonly size: number;
  readonly sha256: string;
}

interface PayloadDetail {
  readonly id: string;
  readonly type: string;
  readonly received_at: string;
  readonly size: number;
  readonly body_sha256: string;
  readonly envelope: {
    readonly tenant: string;
    readonly source?: Record<string, unknown>;
    readonly data?: unknown;
    readonly attachments?: readonly Attachment[];
  };
}

type Receipt = Record<string, unknown> & { readonly id: string; readonly kind: string; readonly issued_at: string };

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));

/**
 * One payload: the decrypted envelope as text, never as markup (an e-mail's HTML is shown as its
 * source), its attachments to download, its deliveries, and its receipts with an in-browser check.
 */
export default function PayloadPage({ params }: PageProps) {
  const id = params.id ?? '';
  const payload = useLoad((signal) => get<PayloadDetail>(`/v1/payloads/${encodeURIComponent(id)}`, undefined, signal), [id]);
  const receipts = useLoad((signal) => get<{ data: Receipt[] }>(`/v1/payloads/${encodeURIComponent(id)}/receipts`, undefined, signal), [id]);

  return (
    <section className="stack">
      <p>
        <Link to="/">← Payloads</Link>
      </p>
      <h1>
        Payload <code>{id}</code>
      </h1>
      {payload.status === 'error' ? <ErrorBanner error={payload.error} /> : null}
      {payload.status === 'loading' ? <p role="status">Loading…</p> : null}
      {payload.status === 'ready' ? <PayloadBody payload={payload.value} /> : null}

      <h2>Deliveries</h2>
      <DeliveriesOf payload={id} />

      <h2>Receipts</h2>
      {receipts.status === 'error' ? <ErrorBanner error={receipts.error} /> : null}
      {receipts.status === 'ready'
        ? receipts.value.data.map((r) => <ReceiptCard key={r.id} receipt={r} tenant={payload.status === 'ready' ? payload.value.envelope.tenant : undefined} />)
        : null}
    </section>
  );
}

function PayloadBody({ payload }: { readonly payload: PayloadDetail }) {
  const { envelope } = payload;
  const email = payload.type === 'email.received' && envelope.data !== null && typeof envelope.data === 'object' ? (envelope.data as Record<string, unknown>) : undefined;
  return (
    <>
      <dl className="facts card">
        <dt>Type</dt>
        <dd>{payload.type}</dd>
        <dt>Received</dt>
        <dd>{new Date(payload.received_at).toLocaleString()}</dd>
        <dt>Source</dt>
        <dd>{text(envelope.source)}</dd>
        <dt>Size</dt>
        <dd>{payload.size} bytes</dd>
        <dt>Body SHA-256</dt>
        <dd>
          <code>{payload.body_sha256}</code>
        </dd>
      </dl>
      {email ? (
        <>
          <h2>E-mail</h2>
          <dl className="facts card">
            {(['from', 'to', 'cc', 'subject', 'date', 'message_id'] as const).map((name) =>
              email[name] === undefined ? null : (
                <div key={name} className="fact">
                  <dt>{name}</dt>
                  <dd>{text(email[name])}</dd>
                </div>
              ),
            )}
          </dl>
          {typeof email.text === 'string' ? (
            <>
              <h3>Text</h3>
              <pre tabIndex={0} aria-label="E-mail text">{email.text}</pre>
            </>
          ) : null}
          {typeof email.html === 'string' ? (
            <>
              <h3>HTML (source, not rendered)</h3>
              <pre tabIndex={0} aria-label="E-mail HTML source">{email.html}</pre>
            </>
          ) : null}
        </>
      ) : null}
      <h2>Data</h2>
      <pre tabIndex={0} aria-label="Payload data as JSON">{JSON.stringify(envelope.data, null, 2)}</pre>
      <CopyButton text={JSON.stringify(envelope.data, null, 2)} label="Copy JSON" />
      {envelope.attachments && envelope.attachments.length > 0 ? (
        <>
          <h2>Attachments</h2>
          <ul>
            {envelope.attachments.map((a) => (
              <li key={a.id}>
                {/* Served as a download (content-disposition: attachment), never opened in this origin. */}
                <a href={`/v1/attachments/${encodeURIComponent(a.id)}`} download>
                  {a.filename}
                </a>{' '}
                <span className="muted small">
                  {a.content_type}, {a.size} bytes, SHA-256 <code>{a.sha256}</code>
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}

function ReceiptCard({ receipt, tenant }: { readonly receipt: Receipt; readonly tenant: string | undefined }) {
  const [outcome, setOutcome] = useState<ReceiptOutcome | 'checking'>();
  const json = JSON.stringify(receipt, null, 2);
  const verify = async (): Promise<void> => {
    setOutcome('checking');
    setOutcome(await verifyReceiptText(JSON.stringify(receipt), { expectedTenant: tenant }));
  };
  return (
    <article className="card stack" aria-label={`Receipt ${receipt.id}`}>
      <p>
        <strong>{receipt.kind}</strong> receipt <code>{receipt.id}</code>, issued {new Date(receipt.issued_at).toLocaleString()}
      </p>
      <details>
        <summary>Signed document</summary>
        <pre tabIndex={0}>{json}</pre>
      </details>
      <div className="row">
        <button type="button" onClick={() => void verify()} disabled={outcome === 'checking'}>
          Verify signature
        </button>
        <CopyButton text={json} label="Copy receipt" />
      </div>
      <ReceiptOutcomeView outcome={outcome} />
    </article>
  );
}
