import { useState, type FormEvent } from 'react';
import { del, get, post } from '../../api/client.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { CopyButton } from '../../components/copy-button.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { SelectField } from '../../components/field.tsx';
import { Table } from '../../components/table.tsx';
import { useLoad } from '../../components/use-load.ts';

interface Inbox {
  readonly id: string;
  readonly address: string;
  readonly dmarc_policy: 'accept' | 'reject';
  readonly created_at: string;
}

const POLICIES = [
  { value: 'reject', label: 'Reject mail that fails DMARC' },
  { value: 'accept', label: 'Accept it (the verdict is in the envelope)' },
] as const;

/** Inboxes: each a secret e-mail address whose mail becomes payloads; its DMARC policy. */
export default function InboxesPage() {
  const list = useLoad((signal) => get<{ data: readonly Inbox[] }>('/v1/inboxes', undefined, signal), []);
  const [policy, setPolicy] = useState<'accept' | 'reject'>('reject');
  const [error, setError] = useState<unknown>();
  const [deleting, setDeleting] = useState<Inbox>();

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await post('/v1/inboxes', { dmarc_policy: policy });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (inbox: Inbox): Promise<void> => {
    setDeleting(undefined);
    try {
      await del(`/v1/inboxes/${inbox.id}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="admin">
      <h1>Inboxes</h1>
      <form className="card row" onSubmit={(e) => void create(e)}>
        <SelectField label="DMARC policy" value={policy} onChange={(e) => setPolicy(e.target.value as 'accept' | 'reject')} options={POLICIES} />
        <button type="submit" className="button-primary">
          Create inbox
        </button>
      </form>
      <p className="muted small">The address is the credential: whoever knows it can send to it. Share it only with the sender.</p>
      <ErrorBanner error={error} />
      {list.status === 'error' ? <ErrorBanner error={list.error} /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' ? (
        <Table
          caption="Inboxes"
          rows={list.value.data}
          rowKey={(i) => i.id}
          empty="No inboxes yet."
          columns={[
            {
              header: 'Address',
              cell: (i) => (
                <span className="stack">
                  <code className="break">{i.address}</code> <CopyButton text={i.address} label="Copy address" />
                </span>
              ),
            },
            { header: 'DMARC', cell: (i) => (i.dmarc_policy === 'reject' ? 'reject failures' : 'accept all') },
            { header: 'Created', cell: (i) => new Date(i.created_at).toLocaleString(), wide: true },
            {
              header: 'Actions',
              cell: (i) => (
                <button type="button" className="button-small button-danger" onClick={() => setDeleting(i)}>
                  Delete
                </button>
              ),
            },
          ]}
        />
      ) : null}
      <ConfirmDialog open={deleting !== undefined} title="Delete this inbox?" confirmLabel="Delete" danger onConfirm={() => deleting && void remove(deleting)} onCancel={() => setDeleting(undefined)}>
        <p>Mail to it will be refused from now on.</p>
      </ConfirmDialog>
    </section>
  );
}
