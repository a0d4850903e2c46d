import { useState, type FormEvent } from 'react';
import { get, send } from '../../api/client.ts';
import { ApiError } from '../../api/problem.ts';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { Field, SelectField } from '../../components/field.tsx';
import { Table } from '../../components/table.tsx';
import { useLoad } from '../../components/use-load.ts';

interface AuditEvent {
  readonly time: string;
  readonly action: string;
  readonly actor: { readonly type: string; readonly id: string };
  readonly resource?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}
interface EventsPage {
  readonly data: readonly { readonly index: number; readonly event: AuditEvent }[];
  readonly next_cursor: string | null;
}
interface Checkpoint {
  readonly checkpoint: string;
  readonly tree_size: number;
  readonly root_hash: string;
}
interface InclusionProof {
  readonly index: number;
  readonly tree_size: number;
  readonly leaf_hash: string;
  readonly proof: readonly string[];
  readonly checkpoint?: string;
}
interface Filters {
  readonly from: string;
  readonly to: string;
  readonly actor: string;
  readonly action: string;
}

/** The plan that may export its audit trail (src/audit/audit.service.ts EXPORT_PLAN). */
const EXPORT_PLAN = 'operation';
/** Suggestions only: the server accepts exactly its AUDIT_ACTIONS and says so otherwise. */
const COMMON_ACTIONS = ['api.request', 'login.succeeded', 'login.failed', 'api_key.created', 'api_key.revoked', 'destination.created', 'destination.tested', 'delivery.retried', 'member.invited', 'member.role_changed', 'policy.changed', 'receipt.issued', 'staff.access_approved'];

/** `2026-12-05T10:00` (a datetime-local value, local time) → ISO 8601, or undefined. */
const iso = (local: string): string | undefined => (local ? new Date(local).toISOString() : undefined);

function ExportForm() {
  const tenant = useLoad((signal) => get<{ plan: string }>('/v1/tenant', undefined, signal), []);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [format, setFormat] = useState<'jsonl' | 'csv'>('jsonl');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const plan = tenant.status === 'ready' ? tenant.value.plan : undefined;
  const allowed = plan === EXPORT_PLAN;

  const download = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const res = await send('POST', '/v1/audit/exports', { body: { from: iso(from), to: iso(to), format } });
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `sealpost-audit.${format}`;
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card stack" onSubmit={(e) => void download(e)}>
      {plan !== undefined && !allowed ? (
        <p className="banner banner-warn">
          Export is part of the <strong>{EXPORT_PLAN}</strong> plan; this tenant is on the <strong>{plan}</strong> plan. You can still read and filter every event here.
        </p>
      ) : null}
      <ErrorBanner error={error} title="The export failed" />
      <div className="row">
        <Field label="Export from" type="datetime-local" required value={from} onChange={(e) => setFrom(e.target.value)} disabled={!allowed} />
        <Field label="Export to" type="datetime-local" required value={to} onChange={(e) => setTo(e.target.value)} disabled={!allowed} />
        <SelectField label="Format" value={format} onChange={(e) => setFormat(e.target.value as 'jsonl' | 'csv')} disabled={!allowed} options={[{ value: 'jsonl', label: 'JSON Lines' }, { value: 'csv', label: 'CSV' }]} />
        <button type="submit" className="button-primary" disabled={!allowed || busy}>
          {busy ? 'Exporting…' : 'Export'}
        </button>
      </div>
    </form>
  );
}

function ProofView({ index }: { readonly index: number }) {
  const proof = useLoad((signal) => get<InclusionProof>('/v1/audit/proof/inclusion', { index }, signal), [index]);
  if (proof.status === 'loading') return <p role="status">Loading the proof…</p>;
  if (proof.status === 'error') {
    const notYet = proof.error instanceof ApiError && proof.error.status === 400;
    return notYet ? <p className="muted small">No checkpoint covers this event yet; one is signed every few minutes.</p> : <ErrorBanner error={proof.error} />;
  }
  return (
    <div className="stack">
      <dl className="facts">
        <dt>Leaf</dt>
        <dd>
          <code>{proof.value.index}</code> of a tree of <code>{proof.value.tree_size}</code>
        </dd>
        <dt>Leaf hash</dt>
        <dd>
          <code>{proof.value.leaf_hash}</code>
        </dd>
        <dt>Audit path</dt>
        <dd>
          <ol className="small">
            {proof.value.proof.map((h, i) => (
              <li key={i}>
                <code>{h}</code>
              </li>
            ))}
          </ol>
        </dd>
      </dl>
      {proof.value.checkpoint ? <pre aria-label="Signed checkpoint of this proof">{proof.value.checkpoint}</pre> : null}
    </div>
  );
}

/** The audit log: filtered events, the latest signed checkpoint, an inclusion proof per event, export (plan-gated). */
export default function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ from: '', to: '', actor: '', action: '' });
  const [applied, setApplied] = useState<Filters>(filters);
  const [cursor, setCursor] = useState<string>();
  const [proofOf, setProofOf] = useState<number>();
  const events = useLoad(
    (signal) => get<EventsPage>('/v1/audit/events', { from: iso(applied.from), to: iso(applied.to), actor: applied.actor, action: applied.action, cursor, limit: 50 }, signal),
    [applied, cursor],
  );
  const checkpoint = useLoad((signal) => get<Checkpoint>('/v1/audit/checkpoint', undefined, signal), []);

  return (
    <section className="admin">
      <h1>Audit log</h1>
      <h2>Events</h2>
      <form
        className="card row"
        onSubmit={(e) => {
          e.preventDefault();
          setCursor(undefined);
          setApplied(filters);
        }}
      >
        <Field label="From" type="datetime-local" value={filters.from} onChange={(e) => setFilters({ ...filters, from: e.target.value })} />
        <Field label="To" type="datetime-local" value={filters.to} onChange={(e) => setFilters({ ...filters, to: e.target.value })} />
        <Field label="Actor id" value={filters.actor} onChange={(e) => setFilters({ ...filters, actor: e.target.value })} placeholder="op_… or key prefix" />
        <Field label="Action" list="audit-actions" value={filters.action} onChange={(e) => setFilters({ ...filters, action: e.target.value })} placeholder="e.g. login.failed" />
        <datalist id="audit-actions">
          {COMMON_ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        <button type="submit" className="button-primary">
          Filter
        </button>
      </form>
      {events.status === 'error' ? <ErrorBanner error={events.error} /> : null}
      {events.status === 'loading' ? <p role="status">Loading…</p> : null}
      {events.status === 'ready' ? (
        <>
          <Table
            caption="Audit events"
            rows={events.value.data}
            rowKey={(e) => String(e.index)}
            empty="No events match."
            columns={[
              { header: 'Time', cell: (e) => new Date(e.event.time).toLocaleString() },
              { header: 'Action', cell: (e) => <code>{e.event.action}</code> },
              { header: 'Actor', cell: (e) => <span className="break">{e.event.actor.type} {e.event.actor.id}</span>, wide: true },
              { header: 'Resource', cell: (e) => (e.event.resource ? <code className="break">{e.event.resource}</code> : '—'), wide: true },
              {
                header: 'Proof',
                cell: (e) => (
                  <button type="button" className="button-small" aria-expanded={proofOf === e.index} onClick={() => setProofOf(proofOf === e.index ? undefined : e.index)}>
                    #{e.index}
                  </button>
                ),
              },
            ]}
          />
          {events.value.next_cursor ? (
            <div className="actions">
              <button type="button" onClick={() => setCursor(events.value.next_cursor ?? undefined)}>
                Next page
              </button>
            </div>
          ) : null}
        </>
      ) : null}
      {proofOf !== undefined ? (
        <div className="card stack">
          <h2>Inclusion proof of event #{proofOf}</h2>
          <ProofView index={proofOf} />
        </div>
      ) : null}
      <h2>Latest checkpoint</h2>
      {checkpoint.status === 'error' ? <ErrorBanner error={checkpoint.error} /> : null}
      {checkpoint.status === 'ready' ? (
        <div className="card stack">
          <dl className="facts">
            <dt>Tree size</dt>
            <dd>{checkpoint.value.tree_size}</dd>
            <dt>Root hash</dt>
            <dd>
              <code>{checkpoint.value.root_hash}</code>
            </dd>
          </dl>
          <pre aria-label="Signed checkpoint">{checkpoint.value.checkpoint}</pre>
          <p className="small muted">
            A C2SP signed note. Check it against the log key at <code>/.well-known/sealpost-log-key</code>, e.g. with <code>sealpost audit verify</code> or @sealpost/verify.
          </p>
        </div>
      ) : null}
      <h2>Export</h2>
      <ExportForm />
    </section>
  );
}
