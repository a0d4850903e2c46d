import { useEffect, useState } from 'react';
import { get, post } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { useLoad } from '../components/use-load.ts';
import { Link } from '../router.tsx';
import type { PageProps } from '../routes.tsx';
import { useSession } from '../session.tsx';
import type { Delivery } from './delivery-table.tsx';

interface Attempt {
  readonly id: string;
  readonly attempt: number;
  readonly started_at: string;
  readonly duration_ms: number;
  readonly status_code: number | null;
  readonly error_class: string | null;
  readonly response_body: string | null;
}

/** While a delivery is pending, its state is read again this often, so the timeline shows the next attempt as it happens. */
const PENDING_REFRESH_MS = 1500;

/** How much of the receiver's answer the timeline shows before "show all" (the API keeps 4 KB). */
const PREVIEW_CHARS = 200;

/** One delivery: its state, and the timeline of its attempts (status, duration, first bytes of the answer, as text). */
export default function DeliveryPage({ params }: PageProps) {
  const id = params.id ?? '';
  const { can } = useSession();
  const delivery = useLoad((signal) => get<Delivery>(`/v1/deliveries/${encodeURIComponent(id)}`, undefined, signal), [id]);
  const attempts = useLoad((signal) => get<Page<Attempt>>(`/v1/deliveries/${encodeURIComponent(id)}/attempts`, { limit: 100 }, signal), [id]);
  const [replayError, setReplayError] = useState<unknown>();
  const [replayed, setReplayed] = useState(false);

  const pending = delivery.status === 'ready' && delivery.value.status === 'pending';
  const { reload: reloadDelivery } = delivery;
  const { reload: reloadAttempts } = attempts;
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(() => {
      reloadDelivery();
      reloadAttempts();
    }, PENDING_REFRESH_MS);
    return () => clearTimeout(timer);
  }, [pending, delivery, reloadDelivery, reloadAttempts]);

  const replay = async (): Promise<void> => {
    setReplayError(undefined);
    try {
      await post(`/v1/deliveries/${encodeURIComponent(id)}/retry`);
      setReplayed(true);
      delivery.reload();
      attempts.reload();
    } catch (err) {
      setReplayError(err);
    }
  };

  return (
    <section className="stack">
      <h1>
        Delivery <code>{id}</code>
      </h1>
      {delivery.status === 'error' ? <ErrorBanner error={delivery.error} /> : null}
      {delivery.status === 'ready' ? (
        <dl className="facts card">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={delivery.value.status} />
          </dd>
          <dt>Payload</dt>
          <dd>
            <Link to={`/payloads/${delivery.value.payload}`}>{delivery.value.payload}</Link>
          </dd>
          <dt>Destination</dt>
          <dd>
            <code>{delivery.value.destination}</code>
          </dd>
          <dt>Attempts</dt>
          <dd>{delivery.value.attempts}</dd>
          {delivery.value.next_attempt_at ? (
            <div className="fact">
              <dt>Next attempt</dt>
              <dd>{new Date(delivery.value.next_attempt_at).toLocaleString()}</dd>
            </div>
          ) : null}
        </dl>
      ) : null}
      {can('destinations:manage') ? (
        <div className="row">
          <button type="button" className="button-primary" onClick={() => void replay()}>
            Replay this delivery
          </button>
          <span aria-live="polite">{replayed ? 'Queued for delivery again.' : ''}</span>
        </div>
      ) : null}
      <ErrorBanner error={replayError} title="Replay refused" />

      <h2>Attempts</h2>
      {attempts.status === 'error' ? <ErrorBanner error={attempts.error} /> : null}
      {attempts.status === 'ready' ? (
        attempts.value.data.length === 0 ? (
          <p className="muted">No attempt yet.</p>
        ) : (
          <ol className="timeline" aria-label="Attempts, first to last">
            {attempts.value.data.map((a) => (
              <li key={a.id} className="card">
                <p>
                  <strong>Attempt {a.attempt}</strong> · {new Date(a.started_at).toLocaleString()} · {a.duration_ms} ms ·{' '}
                  <StatusBadge status={a.status_code !== null && a.status_code >= 200 && a.status_code < 300 ? 'succeeded' : a.status_code !== null ? `HTTP ${a.status_code}` : (a.error_class ?? 'error')} />
                  {a.status_code !== null && a.status_code >= 200 && a.status_code < 300 ? ` HTTP ${a.status_code}` : ''}
                </p>
                {a.response_body ? <AnswerPreview body={a.response_body} /> : null}
              </li>
            ))}
          </ol>
        )
      ) : null}
    </section>
  );
}

/** The receiver's answer as text (it may hold anything the receiver chose to send back). */
function AnswerPreview({ body }: { readonly body: string }) {
  const [all, setAll] = useState(false);
  const long = body.length > PREVIEW_CHARS;
  return (
    <>
      <pre tabIndex={0} aria-label="First bytes of the answer">{all || !long ? body : `${body.slice(0, PREVIEW_CHARS)}…`}</pre>
      {long ? (
        <button type="button" className="button-link" onClick={() => setAll(!all)}>
          {all ? 'Show less' : 'Show all'}
        </button>
      ) : null}
    </>
  );
}
