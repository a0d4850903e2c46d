import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { SealpostConfig } from '../config/config.schema.js';
import type { OwnListeners } from './own-listeners.js';
import type { HostResolver } from './ssrf-guard.js';

/** What the destination and delivery services need besides their repositories (built in src/app/sealpost.ts). */
export interface DeliveryApiDeps {
  /** Records each destination change's audit event in the change's transaction. */
  readonly audit: AuditRecorder;
  readonly config: Pick<SealpostConfig, 'allowPrivateDestinations' | 'allowHttpDestinations' | 'deliveryTimeoutSeconds'> &
    Partial<Pick<SealpostConfig, 'maxDestinationsPerTenant'>>;
  /** This deployment's own listeners, which no destination may reach (no self-loops). */
  readonly ownListeners?: OwnListeners;
  /** Wakes the in-process delivery worker when deliveries become due (retry, replay, re-enable). */
  readonly poke?: () => void;
  /** DNS used to check a destination's host when it is saved; the system resolver by default. */
  readonly resolver?: HostResolver;
  readonly now?: () => number;
}
