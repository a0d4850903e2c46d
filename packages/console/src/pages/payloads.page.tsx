import { useState, type FormEvent } from 'react';
import { get } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Field, SelectField } from '../components/field.tsx';
import { Table } from '../components/table.tsx';
import { useLoad } from '../components/use-load.ts';
import { Link, useRouter } from '../router.tsx';

export interface PayloadSummary {
  readonly id: string;
  readonly type: string;
  readonly channel: string;
  readonly size: number;
  readonly received_at: string;
}

/** The filters GET /v1/payloads takes, as the page's own query string (so a search is a link). */
const FILTERS = ['type', 'channel', 'delivery_status', 'received_from', 'received_before'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

/** `<input type=datetime-local>` is local time without a zone; the API takes ISO 8601 instants. */
const toIso = (local: string | undefined): string | undefined => (local ? new Date(local).toISOString() : undefined);

/** The tenant's payloads, newest first, searchable by time range, type, channel and delivery status. */
export default function PayloadsPage() {
  const { location, navigate } = useRouter();
  const applied: Filters = Object.fromEntries(FILTERS.map((f) => [f, location.search.get(f) ?? undefined]));
  const [draft, setDraft] = useState<Filters>(applied);
  const [cursor, setCursor] = useState<string>();
  const key = location.search.toString();
  const list = useLoad(
    (signal) =>
      get<Page<PayloadSummary>>(
        '/v1/payloads',
        { ...applied, received_from: toIso(applied.received_from), received_before: toIso(applied.received_before), cursor, limit: 50 },
        signal,
      ),
    [key, cursor],
  );

  const search = (event: FormEvent): void => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const f of FILTERS) if (draft[f]) params.set(f, draft[f]!);
    setCursor(undefined);
    navigate(params.size > 0 ? `/?${params.toString()}` : '/');
  };
  const set = (name: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [name]: e.target.value });

  return (
    <section className="stack">
      <h1>Payloads</h1>
      <form className="card filters" onSubmit={search} aria-label="Search payloads">
        <Field label="Received from" type="datetime-local" value={draft.received_from ?? ''} onChange={set('received_from')} />
        <Field label="Received before" type="datetime-local" value={draft.received_before ?? ''} onChange={set('received_before')} />
        <SelectField label="Type" value={draft.type ?? ''} onChange={set('type')} options={[{ value: '', label: 'Any' }, { value: 'payload.received', label: 'JSON payload' }, { value: 'email.received', label: 'E-mail' }]} />
        <SelectField label="Channel" value={draft.channel ?? ''} onChange={set('channel')} options={[{ value: '', label: 'Any' }, { value: 'https', label: 'HTTPS' }, { value: 'smtp', label: 'SMTP' }]} />
        <SelectField
          label="Delivery status"
          value={draft.delivery_status ?? ''}
          onChange={set('delivery_status')}
          options={[{ value: '', label: 'Any' }, { value: 'pending', label: 'Pending' }, { value: 'succeeded', label: 'Succeeded' }, { value: 'dead', label: 'Failed (dead)' }, { value: 'stopped', label: 'Stopped (410)' }]}
        />
        <div className="filter-actions">
          <button type="submit" className="button-primary">
            Search
          </button>
        </div>
      </form>
      {list.status === 'error' ? <ErrorBanner error={list.error} /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' ? (
        <>
          <Table
            caption="Payloads"
            rows={list.value.data}
            rowKey={(p) => p.id}
            empty="No payloads match."
            columns={[
              { header: 'Received', cell: (p) => <Link to={`/payloads/${p.id}`}>{new Date(p.received_at).toLocaleString()}</Link> },
              { header: 'Type', cell: (p) => p.type },
              { header: 'Channel', cell: (p) => p.channel, wide: true },
              { header: 'Size', cell: (p) => `${p.size} B`, wide: true },
              { header: 'Id', cell: (p) => <code>{p.id}</code>, wide: true },
            ]}
          />
          {list.value.next_cursor ? (
            <button type="button" onClick={() => setCursor(list.value.next_cursor ?? undefined)}>
              Older payloads
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
