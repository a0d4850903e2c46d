import { get } from '../../api/client.ts';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { Table } from '../../components/table.tsx';
import { useLoad } from '../../components/use-load.ts';

/** `GET /v1/staff-access` (src/identity/staff/staff.routes.ts). */
interface Grant {
  readonly id: string;
  readonly scope: string;
  readonly reason: string;
  readonly state: string;
  readonly break_glass: boolean;
  readonly requester: { readonly email: string | null; readonly id: string };
  readonly approver: { readonly email: string | null; readonly id: string } | null;
  readonly requested_at: string;
  readonly expires_at: string | null;
}

/** Access transparency: every time the deployment's staff asked for, or took, access to this tenant. */
export default function StaffAccessPage() {
  const grants = useLoad((signal) => get<{ data: readonly Grant[] }>('/v1/staff-access', undefined, signal), []);
  return (
    <section className="admin">
      <h1>Staff access</h1>
      <p className="muted">Sealpost staff reach your data only under a grant another staff member approved (or a break-glass, reviewed afterwards). Each one is listed here.</p>
      {grants.status === 'error' ? <ErrorBanner error={grants.error} /> : null}
      {grants.status === 'loading' ? <p role="status">Loading…</p> : null}
      {grants.status === 'ready' ? (
        <Table
          caption="Staff access grants"
          rows={grants.value.data}
          rowKey={(g) => g.id}
          empty="No staff has asked for access to this tenant."
          columns={[
            { header: 'Requested', cell: (g) => new Date(g.requested_at).toLocaleString() },
            { header: 'State', cell: (g) => <span className={`status ${g.state === 'approved' ? 'status-wait' : 'status-ok'}`}>{g.break_glass ? `${g.state} (break-glass)` : g.state}</span> },
            { header: 'Scope', cell: (g) => g.scope },
            { header: 'Reason', cell: (g) => g.reason },
            { header: 'Staff', cell: (g) => g.requester.email ?? g.requester.id, wide: true },
            { header: 'Approved by', cell: (g) => (g.approver ? (g.approver.email ?? g.approver.id) : '—'), wide: true },
            { header: 'Ends', cell: (g) => (g.expires_at ? new Date(g.expires_at).toLocaleString() : '—'), wide: true },
          ]}
        />
      ) : null}
    </section>
  );
}
