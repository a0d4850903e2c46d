import { useState, type FormEvent } from 'react';
import { Field, SelectField } from '../components/field.tsx';
import { useRouter } from '../router.tsx';
import { DeliveryTable } from './delivery-table.tsx';

/** Every delivery of the tenant, by status and destination; select and replay. */
export default function DeliveriesPage() {
  const { location, navigate } = useRouter();
  const status = location.search.get('status') ?? '';
  const destination = location.search.get('destination') ?? '';
  const [draft, setDraft] = useState({ status, destination });
  const search = (event: FormEvent): void => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (draft.status) params.set('status', draft.status);
    if (draft.destination.trim()) params.set('destination', draft.destination.trim());
    navigate(params.size > 0 ? `/deliveries?${params.toString()}` : '/deliveries');
  };
  return (
    <section className="stack">
      <h1>Deliveries</h1>
      <form className="card filters" onSubmit={search} aria-label="Filter deliveries">
        <SelectField
          label="Status"
          value={draft.status}
          onChange={(e) => setDraft({ ...draft, status: e.target.value })}
          options={[{ value: '', label: 'Any' }, { value: 'pending', label: 'Pending' }, { value: 'succeeded', label: 'Succeeded' }, { value: 'dead', label: 'Failed (dead)' }, { value: 'stopped', label: 'Stopped (410)' }]}
        />
        <Field label="Destination id" placeholder="dst_…" value={draft.destination} onChange={(e) => setDraft({ ...draft, destination: e.target.value })} />
        <div className="filter-actions">
          <button type="submit" className="button-primary">
            Filter
          </button>
        </div>
      </form>
      <DeliveryTable query={{ status, destination }} caption="Deliveries" />
    </section>
  );
}
