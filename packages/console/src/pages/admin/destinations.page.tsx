import { useState, type FormEvent } from 'react';
import { api, del, get, post } from '../../api/client.ts';
import type { Page } from '../../api/types.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { Field } from '../../components/field.tsx';
import { useLoad } from '../../components/use-load.ts';

interface Destination {
  readonly id: string;
  readonly url: string;
  readonly event_types: readonly string[] | null;
  readonly enabled: boolean;
  readonly disabled_reason: string | null;
  readonly header_names: readonly string[];
  readonly failing_since: string | null;
}

/** `POST /v1/destinations/:id/test` (src/delivery/destination-test.routes.ts). */
interface TestResult {
  readonly webhook_id: string;
  readonly ok: boolean;
  readonly status_code: number | null;
  readonly duration_ms: number;
  readonly error_class: string | null;
  readonly error: string | null;
  readonly response_body: string | null;
}

/** "a, b" → ["a", "b"]; empty → null (every event type). */
function eventTypes(text: string): string[] | null {
  const list = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return list.length === 0 ? null : list;
}

function DestinationForm({ initial, submitLabel, onSaved }: { readonly initial?: Destination; readonly submitLabel: string; readonly onSaved: () => void }) {
  const [url, setUrl] = useState(initial?.url ?? '');
  const [types, setTypes] = useState(initial?.event_types?.join(', ') ?? '');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = { url, event_types: eventTypes(types) };
      if (initial) await api('PATCH', `/v1/destinations/${initial.id}`, { body });
      else await post('/v1/destinations', body);
      if (!initial) {
        setUrl('');
        setTypes('');
      }
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card stack" onSubmit={(e) => void submit(e)}>
      <ErrorBanner error={error} title="The destination was not saved" />
      <Field label="Endpoint URL" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/webhooks/sealpost" hint="Where Sealpost POSTs signed events. https:// only, unless the server allows http." />
      <Field label="Event types" value={types} onChange={(e) => setTypes(e.target.value)} placeholder="payload.received, email.received" hint="Comma-separated; leave empty for every type." />
      <div className="actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {submitLabel}
        </button>
      </div>
    </form>
  );
}

function TestOutcome({ result }: { readonly result: TestResult }) {
  return (
    <div className={`banner ${result.ok ? 'banner-ok' : 'banner-error'}`} role="status">
      <strong>{result.ok ? `Delivered: HTTP ${result.status_code ?? ''}` : `Not delivered: ${result.error ?? result.error_class ?? 'error'}`}</strong>
      <p className="small">
        Test event <code>{result.webhook_id}</code> · {result.duration_ms} ms{result.status_code !== null ? ` · status ${result.status_code}` : ''}
      </p>
      {result.response_body ? (
        <>
          <p className="small">First bytes of the answer:</p>
          <pre>{result.response_body}</pre>
        </>
      ) : null}
    </div>
  );
}

/** Destinations: list, create, edit, enable or disable, delete, and send a signed test event. */
export default function DestinationsPage() {
  const list = useLoad((signal) => get<Page<Destination>>('/v1/destinations', { limit: 100 }, signal), []);
  const [editing, setEditing] = useState<string>();
  const [deleting, setDeleting] = useState<Destination>();
  const [results, setResults] = useState<Readonly<Record<string, TestResult | { failed: unknown } | 'sending'>>>({});
  const [error, setError] = useState<unknown>();

  const test = async (d: Destination): Promise<void> => {
    setResults((r) => ({ ...r, [d.id]: 'sending' }));
    try {
      const result = await post<TestResult>(`/v1/destinations/${d.id}/test`);
      setResults((r) => ({ ...r, [d.id]: result }));
    } catch (err) {
      setResults((r) => ({ ...r, [d.id]: { failed: err } }));
    }
  };
  const toggle = async (d: Destination): Promise<void> => {
    setError(undefined);
    try {
      await api('PATCH', `/v1/destinations/${d.id}`, { body: { enabled: !d.enabled } });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (d: Destination): Promise<void> => {
    setDeleting(undefined);
    setError(undefined);
    try {
      await del(`/v1/destinations/${d.id}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="admin">
      <h1>Destinations</h1>
      <h2>New destination</h2>
      <DestinationForm submitLabel="Create destination" onSaved={list.reload} />
      <h2>Your destinations</h2>
      <ErrorBanner error={error} />
      {list.status === 'error' ? <ErrorBanner error={list.error} /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' ? (
        list.value.data.length === 0 ? (
          <p className="muted">No destinations yet.</p>
        ) : (
          <ul className="list-plain stack">
            {list.value.data.map((d) => {
              const result = results[d.id];
              return (
                <li key={d.id} className="card stack">
                  <div className="row spread">
                    <code className="break">{d.url}</code>
                    <span className={`status ${d.enabled ? (d.failing_since ? 'status-wait' : 'status-ok') : 'status-bad'}`}>
                      {d.enabled ? (d.failing_since ? 'failing' : 'enabled') : 'disabled'}
                    </span>
                  </div>
                  <p className="small muted">
                    <code>{d.id}</code> · {d.event_types ? d.event_types.join(', ') : 'every event type'}
                    {d.header_names.length > 0 ? ` · headers: ${d.header_names.join(', ')}` : ''}
                    {!d.enabled && d.disabled_reason ? ` · ${d.disabled_reason}` : ''}
                  </p>
                  <div className="actions">
                    <button type="button" className="button-primary" onClick={() => void test(d)} disabled={result === 'sending'}>
                      Send test event
                    </button>
                    <button type="button" onClick={() => setEditing(editing === d.id ? undefined : d.id)} aria-expanded={editing === d.id}>
                      Edit
                    </button>
                    <button type="button" onClick={() => void toggle(d)}>
                      {d.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <button type="button" className="button-danger" onClick={() => setDeleting(d)}>
                      Delete
                    </button>
                  </div>
                  {result === 'sending' ? <p role="status">Sending a test event…</p> : null}
                  {result !== undefined && result !== 'sending' ? 'failed' in result ? <ErrorBanner error={result.failed} title="The test event was not sent" /> : <TestOutcome result={result} /> : null}
                  {editing === d.id ? (
                    <DestinationForm
                      initial={d}
                      submitLabel="Save changes"
                      onSaved={() => {
                        setEditing(undefined);
                        list.reload();
                      }}
                    />
                  ) : null}
                </li>
              );
            })}
          </ul>
        )
      ) : null}
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete this destination?"
        confirmLabel="Delete"
        danger
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(undefined)}
      >
        <p>
          Its pending deliveries stop. <code className="break">{deleting?.url}</code>
        </p>
      </ConfirmDialog>
    </section>
  );
}
