import { useState } from 'react';
import { get, post, type Query } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import { ConfirmDialog } from '../components/confirm-dialog.tsx';
import { ErrorBanner } from '../components/error-banner.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { Table } from '../components/table.tsx';
import { useLoad } from '../components/use-load.ts';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';

export interface Delivery {
  readonly id: string;
  readonly payload: string;
  readonly destination: string;
  readonly status: string;
  readonly attempts: number;
  readonly next_attempt_at: string | null;
  readonly last_status_code: number | null;
  readonly last_error: string | null;
  readonly updated_at: string;
}

/**
 * Deliveries matching `query` (`GET /v1/deliveries`), each with its state per destination; with
 * `destinations:manage`, any selection can be replayed (`POST /v1/deliveries/:id/retry`, one
 * after the other, with a progress bar and a count of failures).
 */
export function DeliveryTable({ query, caption }: { readonly query: Query; readonly caption: string }) {
  const { can } = useSession();
  const mayReplay = can('destinations:manage');
  const [cursor, setCursor] = useState<string>();
  const key = JSON.stringify(query);
  const list = useLoad((signal) => get<Page<Delivery>>('/v1/deliveries', { ...query, cursor, limit: 50 }, signal), [key, cursor]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const [progress, setProgress] = useState<{ done: number; total: number; failed: number; lastError?: unknown }>();

  const toggle = (id: string): void => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  const replay = async (): Promise<void> => {
    setConfirming(false);
    const ids = [...selected];
    let failed = 0;
    let lastError: unknown;
    setProgress({ done: 0, total: ids.length, failed });
    for (const [i, id] of ids.entries()) {
      try {
        await post(`/v1/deliveries/${encodeURIComponent(id)}/retry`);
      } catch (err) {
        failed += 1;
        lastError = err;
      }
      setProgress({ done: i + 1, total: ids.length, failed, lastError });
    }
    setSelected(new Set());
    list.reload();
  };

  if (list.status === 'error') return <ErrorBanner error={list.error} />;
  if (list.status === 'loading') return <p role="status">Loading…</p>;
  const rows = list.value.data;
  return (
    <div className="stack">
      {mayReplay && rows.length > 0 ? (
        <div className="row">
          <button type="button" onClick={() => setSelected(selected.size === rows.length ? new Set() : new Set(rows.map((r) => r.id)))}>
            {selected.size === rows.length ? 'Clear selection' : 'Select all'}
          </button>
          <button type="button" className="button-primary" disabled={selected.size === 0 || (progress !== undefined && progress.done < progress.total)} onClick={() => setConfirming(true)}>
            Replay selected ({selected.size})
          </button>
        </div>
      ) : null}
      {progress ? (
        <div className="card" role="status" aria-live="polite">
          <label htmlFor="replay-progress">
            Replayed {progress.done} of {progress.total}
            {progress.failed > 0 ? `, ${progress.failed} refused` : ''}
          </label>
          <progress id="replay-progress" max={progress.total} value={progress.done} />
          {progress.lastError ? <ErrorBanner error={progress.lastError} title="A replay was refused" /> : null}
        </div>
      ) : null}
      <Table
        caption={caption}
        rows={rows}
        rowKey={(d) => d.id}
        empty="No deliveries."
        columns={[
          ...(mayReplay
            ? [{ header: 'Select', cell: (d: Delivery) => <input type="checkbox" aria-label={`Select delivery ${d.id}`} checked={selected.has(d.id)} onChange={() => toggle(d.id)} /> }]
            : []),
          { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
          { header: 'Destination', cell: (d) => <code>{d.destination}</code> },
          { header: 'Attempts', cell: (d) => <Link to={`/deliveries/${d.id}`} aria-label={`${d.attempts} attempts of delivery ${d.id}`}>{d.attempts}</Link> },
          { header: 'Last answer', cell: (d) => (d.last_status_code !== null ? `HTTP ${d.last_status_code}` : (d.last_error ?? '—')), wide: true },
          { header: 'Updated', cell: (d) => new Date(d.updated_at).toLocaleString(), wide: true },
        ]}
      />
      {list.value.next_cursor ? (
        <button type="button" onClick={() => setCursor(list.value.next_cursor ?? undefined)}>
          More deliveries
        </button>
      ) : null}
      <ConfirmDialog open={confirming} title={`Replay ${selected.size} deliveries?`} confirmLabel="Replay" onCancel={() => setConfirming(false)} onConfirm={() => void replay()}>
        <p>Each destination receives the payload again, with the same webhook-id (receivers de-duplicate on it).</p>
      </ConfirmDialog>
    </div>
  );
}
