import { sign } from 'node:crypto';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { SealpostConfig } from '../config/config.schema.js';
import type { Logger } from '../logging/logger.js';
import type { OutboundMailer } from '../mail/outbound-mailer.js';
import { SubscriptionRepository } from '../status/subscriptions/subscription.repository.js';
import { SubscriptionService } from '../status/subscriptions/subscription.service.js';
import { WebhookSubscriptionRepository } from '../status/subscriptions/webhook-subscription.repository.js';
import { WebhookSubscriptionService, type WebhookSubscriptionDeps } from '../status/subscriptions/webhook-subscription.service.js';
import { ComponentStatusService, type ProbeTargets } from '../status/component-status.service.js';
import { IncidentRepository } from '../status/incidents/incident.repository.js';
import { IncidentService } from '../status/incidents/incident.service.js';
import { MaintenanceService } from '../status/maintenance.service.js';
import type { LogKeySigner } from '../status/status-document.js';
import { StatusLive } from '../status/status-live.js';
import { StatusPageService } from '../status/status-page.service.js';
import { StatusRepository } from '../status/status.repository.js';
import type { AppContext } from './app-context.js';

/** The status page (src/status/): probes, maintenance, incidents, the page's facts and its live updates. */
export interface StatusServices {
  /** The scheduler's `status-probes` job. */
  readonly components: ComponentStatusService;
  readonly maintenance: MaintenanceService;
  readonly incidents: IncidentService;
  readonly page: StatusPageService;
  /** Server-Sent Events listeners of this process. */
  readonly live: StatusLive;
  /** E-mail subscribers (double opt-in) and the scheduler's `status-notices` job. */
  readonly subscriptions: SubscriptionService;
  /** Webhook subscribers (confirmed by a signed event) and the `status.notice` ingest of the `status-notices` job. */
  readonly webhooks: WebhookSubscriptionService;
}

/** A listener bound to every address is probed on loopback; one bound to an address, there. */
function reachable(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

/** The probes' targets from the configuration: this deployment's own listeners. */
export function configuredProbeTargets(config: SealpostConfig, publicUrl: string): ProbeTargets {
  return {
    https: { host: config.statusProbeHost ?? reachable(config.httpHost), port: config.httpPort, servername: new URL(publicUrl).hostname },
    smtp: { host: config.statusProbeHost ?? reachable(config.smtpHost), port: config.smtpPort },
  };
}

/** Signs with the deployment's audit log key (the key of its checkpoints), as drill reports are. */
export function logKeySigner(context: Pick<AppContext, 'audit'>): LogKeySigner {
  return async (bytes) => {
    const key = await context.audit.keys.currentKey();
    return { alg: 'Ed25519', kid: key.id, value: sign(null, bytes, key.privateKey).toString('base64url') };
  };
}

export function createStatusServices(
  context: AppContext,
  options: {
    config: SealpostConfig;
    audit: AuditRecorder;
    publicUrl: string;
    logger: Logger;
    mailer: OutboundMailer;
    /** The deployment tenant's destinations, the guarded sender and ingest, for webhook subscribers. */
    webhooks: Pick<WebhookSubscriptionDeps, 'destinations' | 'sender' | 'ingest' | 'deploymentTenant' | 'maxSubscribers'>;
    now?: () => number;
    targets?: () => ProbeTargets;
  },
): StatusServices {
  const { db } = context.database;
  const now = options.now ?? Date.now;
  const status = new StatusRepository(db);
  const incidentRepository = new IncidentRepository(db);
  const page = new StatusPageService(status, incidentRepository, now);
  const live = new StatusLive(page, (err) => options.logger.warn({ err }, 'status page: live update failed'));
  const changed = (): void => live.poke();
  const subscriptions = new SubscriptionService(new SubscriptionRepository(db), {
    cipher: context.cipher,
    mailer: options.mailer,
    publicUrl: options.publicUrl.replace(/\/$/, ''),
    now,
    logger: options.logger,
  });
  const webhooks = new WebhookSubscriptionService(new WebhookSubscriptionRepository(db), {
    ...options.webhooks,
    cipher: context.cipher,
    signer: context.receipts.signer,
    publicUrl: options.publicUrl.replace(/\/$/, ''),
    now,
    logger: options.logger,
  });
  const targets = options.targets ?? ((): ProbeTargets => configuredProbeTargets(options.config, options.publicUrl));
  return {
    components: new ComponentStatusService(status, {
      db,
      audit: options.audit,
      targets,
      // As the worker counts a peer dead (src/app/worker.ts): silent for 3 heartbeats.
      workerSilentAfterMs: 3 * options.config.workerHeartbeatSeconds * 1000,
      changed,
      now,
    }),
    maintenance: new MaintenanceService(status, { db, audit: options.audit, now, changed }),
    incidents: new IncidentService(incidentRepository, { db, audit: options.audit, sign: logKeySigner(context), now, changed, notify: async (tx, updateId) => {
        await subscriptions.enqueue(tx, updateId);
        await webhooks.enqueue(tx, updateId);
      },
    }),
    page,
    live,
    subscriptions,
    webhooks,
  };
}
