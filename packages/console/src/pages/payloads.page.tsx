import { get } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import { ErrorBanner } from '../components/error-banner.tsx';
import { Table } from '../components/table.tsx';
import { useLoad } from '../components/use-load.ts';

interface PayloadSummary {
  readonly id: string;
  readonly type: string;
  readonly received_at: string;
}

/** The tenant's payloads, newest first. */
export default function PayloadsPage() {
  const list = useLoad((signal) => get<Page<PayloadSummary>>('/v1/payloads', { limit: 50 }, signal), []);
  return (
    <section>
      <h1>Payloads</h1>
      {list.status === 'error' ? <ErrorBanner error={list.error} /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' ? (
        <Table
          caption="Payloads"
          rows={list.value.data}
          rowKey={(p) => p.id}
          empty="No payloads yet."
          columns={[
            { header: 'Received', cell: (p) => new Date(p.received_at).toLocaleString() },
            { header: 'Type', cell: (p) => p.type },
            { header: 'Id', cell: (p) => <code>{p.id}</code>, wide: true },
          ]}
        />
      ) : null}
    </section>
  );
}
