/** A delivery or verification state as a labelled badge (text, not colour alone). */
export function StatusBadge({ status }: { readonly status: string }) {
  const tone = status === 'succeeded' || status === 'verified' ? 'status-ok' : status === 'pending' ? 'status-wait' : 'status-bad';
  return <span className={`status ${tone}`}>{status}</span>;
}
