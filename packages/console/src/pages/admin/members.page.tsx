import { useState, type FormEvent } from 'react';
import { api, get, post } from '../../api/client.ts';
import type { Role } from '../../api/types.ts';
import { ConfirmDialog } from '../../components/confirm-dialog.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { Field, SelectField } from '../../components/field.tsx';
import { Table } from '../../components/table.tsx';
import { useLoad } from '../../components/use-load.ts';
import { useSession } from '../../session.tsx';

interface Member {
  readonly id: string;
  readonly email: string;
  readonly role: Role;
  readonly created_at: string;
}

/** Narrowest first, as src/identity/permissions.ts ROLES: a role grants at most itself. */
const ROLES: readonly Role[] = ['viewer', 'developer', 'admin', 'owner'];
const rank = (role: Role): number => ROLES.indexOf(role);

/** Members and roles: invite, change a role, remove. The server enforces the same ranks. */
export default function MembersPage() {
  const { state, can } = useSession();
  const me = state.status === 'signed-in' ? state.info.operator : undefined;
  const manage = can('members:manage');
  const grantable = ROLES.filter((r) => me !== undefined && rank(r) <= rank(me.role)).map((r) => ({ value: r, label: r }));
  const list = useLoad((signal) => get<{ data: readonly Member[] }>('/v1/members', undefined, signal), []);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [removing, setRemoving] = useState<Member>();
  const [keys, setKeys] = useState<'revoke' | 'hand_over'>('revoke');

  const run = async (work: () => Promise<unknown>, done: string): Promise<void> => {
    setError(undefined);
    setNotice(undefined);
    try {
      await work();
      setNotice(done);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const invite = (e: FormEvent): void => {
    e.preventDefault();
    void run(() => post('/v1/members', { email, role }), `Invitation sent to ${email}.`).then(() => setEmail(''));
  };

  return (
    <section className="admin">
      <h1>Members</h1>
      {manage ? (
        <form className="card row" onSubmit={invite}>
          <Field label="E-mail" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)} options={grantable} />
          <button type="submit" className="button-primary">
            Invite
          </button>
        </form>
      ) : null}
      {notice ? (
        <p className="banner banner-ok" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorBanner error={error} />
      {list.status === 'error' ? <ErrorBanner error={list.error} /> : null}
      {list.status === 'loading' ? <p role="status">Loading…</p> : null}
      {list.status === 'ready' ? (
        <Table
          caption="Members"
          rows={list.value.data}
          rowKey={(m) => m.id}
          columns={[
            { header: 'E-mail', cell: (m) => <span className="break">{m.email}{m.id === me?.id ? ' (you)' : ''}</span> },
            {
              header: 'Role',
              cell: (m) =>
                manage && m.id !== me?.id && me !== undefined && rank(m.role) <= rank(me.role) ? (
                  <SelectField
                    label={`Role of ${m.email}`}
                    className="label-hidden"
                    value={m.role}
                    options={grantable}
                    onChange={(e) => void run(() => api('PATCH', `/v1/members/${m.id}`, { body: { role: e.target.value } }), `${m.email} is now ${e.target.value}.`)}
                  />
                ) : (
                  <span className="role">{m.role}</span>
                ),
            },
            { header: 'Since', cell: (m) => new Date(m.created_at).toLocaleDateString(), wide: true },
            {
              header: 'Actions',
              cell: (m) =>
                manage && m.id !== me?.id && me !== undefined && rank(m.role) <= rank(me.role) ? (
                  <button type="button" className="button-small button-danger" onClick={() => setRemoving(m)}>
                    Remove
                  </button>
                ) : null,
            },
          ]}
        />
      ) : null}
      <ConfirmDialog
        open={removing !== undefined}
        title={`Remove ${removing?.email ?? ''}?`}
        confirmLabel="Remove"
        danger
        onConfirm={() => {
          const m = removing;
          setRemoving(undefined);
          if (m) void run(() => api('DELETE', `/v1/members/${m.id}`, { query: { keys } }), `${m.email} was removed.`);
        }}
        onCancel={() => setRemoving(undefined)}
      >
        <p>Their sessions end at once.</p>
        <SelectField
          label="Their API keys"
          value={keys}
          onChange={(e) => setKeys(e.target.value as 'revoke' | 'hand_over')}
          options={[
            { value: 'revoke', label: 'Revoke them' },
            { value: 'hand_over', label: 'Hand them over to me' },
          ]}
        />
      </ConfirmDialog>
    </section>
  );
}
