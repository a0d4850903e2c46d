import { DeliveryTable } from './delivery-table.tsx';

/** A payload's deliveries, one per destination. */
export function DeliveriesOf({ payload }: { readonly payload: string }) {
  return <DeliveryTable query={{ payload }} caption="Deliveries of this payload" />;
}
