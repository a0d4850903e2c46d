import type { Kysely } from 'kysely';
import type { AuditRecorder } from '../audit/audit-recorder.js';
import type { Database } from '../db/schema.js';
import { COMPONENTS, type Component, type ComponentState, type ProbeResult } from './component.js';
import { deliveryState, probeHttps, probeSmtp, type ProbeTarget } from './probes.js';
import { utcDay, type StatusRepository } from './status.repository.js';

/** The uptime bars cover 90 days; older daily counts are dropped. */
export const UPTIME_DAYS = 90;
const DAY_MS = 86_400_000;
/** The delivery error rate looks at this many recent minutes. */
const ERROR_RATE_WINDOW_MS = 5 * 60_000;
const PROBE_ACTOR = { type: 'system', id: 'status-probes' } as const;

/** Where the probes find this deployment's own listeners (read at every run: tests and restarts move them). */
export interface ProbeTargets {
  readonly https: ProbeTarget & { servername?: string };
  readonly smtp: ProbeTarget;
}

export interface ComponentStatusDeps {
  readonly db: Kysely<Database>;
  readonly audit: AuditRecorder;
  readonly targets: () => ProbeTargets;
  /** A worker whose heartbeat is older than this is not counted as running (ms). */
  readonly workerSilentAfterMs: number;
  /** Tells live page clients in this process that something changed. */
  readonly changed: () => void;
  readonly now?: () => number;
}

/**
 * The probe job (scheduler `status-probes`): probes every component, lets a maintenance window
 * override what the probes found for the components it covers, stores the sample (current state
 * and the day's count), and records each change of state in the audit log.
 */
export class ComponentStatusService {
  private readonly now: () => number;

  constructor(
    private readonly repository: StatusRepository,
    private readonly deps: ComponentStatusDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async probe(): Promise<Record<Component, ProbeResult>> {
    const targets = this.deps.targets();
    const at = this.now();
    const [https, smtp, console, signals] = await Promise.all([
      probeHttps(targets.https, '/healthz', (status) => status === 200),
      probeSmtp(targets.smtp),
      // The console is a page of the same server: anything but a server error means it is served.
      probeHttps(targets.https, '/console/', (status) => status > 0 && status < 500),
      this.repository.deliverySignals(at, at - this.deps.workerSilentAfterMs, at - ERROR_RATE_WINDOW_MS),
    ]);
    return { https_ingest: https, smtp_ingress: smtp, delivery: deliveryState(signals), console };
  }

  /** One run of the job: probe, store, audit the changes; returns the states stored. */
  async run(): Promise<Record<Component, { state: ComponentState; detail: string }>> {
    const found = await this.probe();
    const at = this.now();
    const previous = new Map((await this.repository.states()).map((s) => [s.component, s]));
    const windows = await this.repository.upcomingMaintenance(at, 100);
    const covered = new Set(windows.filter((w) => w.startsAt <= at).flatMap((w) => w.components));
    const result = {} as Record<Component, { state: ComponentState; detail: string }>;
    let anyChange = false;
    await this.deps.db.transaction().execute(async (tx) => {
      for (const component of COMPONENTS) {
        const probed = found[component];
        // A window suppresses probe-based changes: planned work must not page anyone or read as an outage.
        const state: ComponentState = covered.has(component) ? 'maintenance' : probed.state;
        const detail = covered.has(component) ? 'scheduled maintenance' : probed.detail;
        const before = previous.get(component);
        const changed = before?.state !== state;
        await this.repository.recordSample(tx, { component, state, detail, at, since: changed ? at : before.since, day: utcDay(at) });
        if (changed) {
          anyChange = true;
          await this.deps.audit(tx, {
            tenant: null,
            actor: PROBE_ACTOR,
            action: 'status.component_changed',
            resource: component,
            details: { from: before?.state ?? null, to: state, detail },
          });
        }
        result[component] = { state, detail };
      }
    });
    await this.repository.purgeDays(utcDay(at - UPTIME_DAYS * DAY_MS));
    if (anyChange) this.deps.changed();
    return result;
  }
}
