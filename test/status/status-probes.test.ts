import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULED_JOBS, startScheduler, type Scheduler } from '../../src/app/scheduler.js';
import { startSmtp } from '../../src/app/smtp.js';
import type { AuditEvent } from '../../src/audit/audit-event.js';
import type { SmtpServerHandle } from '../../src/ingest/smtp/smtp.server.js';
import type { ProbeTargets } from '../../src/status/component-status.service.js';
import { fixedResolver } from '../ingest/smtp/smtp-test-support.js';
import { until } from '../support/poll.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { testDialects } from '../support/test-database.js';

const ACTOR = { type: 'system', id: 'test' } as const;

describe.each(testDialects())('status probes on %s', { timeout: 120_000 }, (dialect) => {
  let app: TestApp;
  let smtp: SmtpServerHandle | undefined;
  let scheduler: Scheduler;
  let smtpPort = 0;
  // The probes read their targets at every run: the test's real listeners.
  const targets: { current: ProbeTargets } = { current: { https: { host: '127.0.0.1', port: 0 }, smtp: { host: '127.0.0.1', port: 0 } } };

  const startListener = async (port: number): Promise<void> => {
    smtp = await startSmtp(app.context, { port, host: '127.0.0.1', name: 'mx.sealpost.test', resolver: fixedResolver({}) });
    smtpPort = smtp.port;
    targets.current = { ...targets.current, smtp: { host: '127.0.0.1', port: smtpPort } };
  };
  const stateOf = async (component: string): Promise<string | undefined> => (await app.context.status.page.snapshot()).components.find((c) => c.id === component)?.state;
  const reaches = (component: string, state: string): Promise<void> =>
    until(async () => (await stateOf(component)) === state, { timeoutMs: 30_000, intervalMs: 50, explain: async () => `${component} is ${await stateOf(component)}` });

  beforeAll(async () => {
    app = await startTestApp(dialect, { env: { SEALPOST_STATUS_PROBE_INTERVAL_SECONDS: '1' }, overrides: { statusProbeTargets: () => targets.current } });
    targets.current = { ...targets.current, https: { host: '127.0.0.1', port: Number(new URL(app.url).port), servername: 'localhost' } };
    await startListener(0);
    scheduler = startScheduler(app.context, SCHEDULED_JOBS.filter((job) => job.name === 'status-probes'));
  });
  afterAll(async () => {
    await scheduler?.stop();
    await smtp?.close();
    await app?.close();
  });

  async function changes(component: string): Promise<AuditEvent[]> {
    const rows = await app.context.database.db.selectFrom('audit_events').select('event').orderBy('log_index').execute();
    return rows.flatMap((r) => (r.event === null ? [] : [JSON.parse(r.event) as AuditEvent])).filter((e) => e.action === 'status.component_changed' && e.resource === component);
  }

  it('finds the HTTPS ingest and the SMTP ingress operational through real probes', async () => {
    await reaches('smtp_ingress', 'operational');
    await reaches('https_ingest', 'operational');
    // No worker runs in this process: deliveries would wait, and the page says so.
    expect(await stateOf('delivery')).toBe('degraded');
  });

  it('turns a stopped SMTP listener into a major outage, and back when it listens again', async () => {
    await smtp!.close();
    smtp = undefined;
    await reaches('smtp_ingress', 'major_outage');
    const snapshot = await app.context.status.page.snapshot();
    expect(snapshot.components.find((c) => c.id === 'smtp_ingress')).toMatchObject({ detail: 'SMTP listener not answering' });
    expect(snapshot.overall).toBe('major_outage');

    await startListener(smtpPort);
    await reaches('smtp_ingress', 'operational');
    // Every change is in the audit log, by the probe job.
    expect((await changes('smtp_ingress')).map((e) => [e.details?.from, e.details?.to, e.actor.id])).toEqual(
      expect.arrayContaining([
        ['operational', 'major_outage', 'status-probes'],
        ['major_outage', 'operational', 'status-probes'],
      ]),
    );
    // The day's bar counts the outage samples.
    const today = (await app.context.status.page.snapshot()).components.find((c) => c.id === 'smtp_ingress')!.days.at(-1)!;
    expect(today.state).toBe('major_outage');
    expect(today.uptime_percent).toBeLessThan(100);
  });

  it('shows a component under maintenance while a window covers it, whatever the probes find', async () => {
    const now = Date.now();
    const window = await app.context.status.maintenance.schedule(ACTOR, { components: ['smtp_ingress'], startsAt: now - 1_000, endsAt: now + 3_600_000, note: 'Rotating the MX certificate' });
    await reaches('smtp_ingress', 'maintenance');
    await smtp!.close();
    smtp = undefined;
    // Let the probe job run twice more over the stopped listener: the window keeps it in maintenance.
    const runs = (await changes('smtp_ingress')).length;
    const sampled = async (): Promise<number> => (await app.context.status.page.snapshot()).components.find((c) => c.id === 'smtp_ingress')!.days.at(-1)!.uptime_percent ?? 0;
    const checkedAt = async (): Promise<number> =>
      Number((await app.context.database.db.selectFrom('status_component_states').select('checked_at').where('component', '=', 'smtp_ingress').executeTakeFirstOrThrow()).checked_at);
    const first = await checkedAt();
    await until(async () => (await checkedAt()) > first, { timeoutMs: 30_000, intervalMs: 50 });
    const second = await checkedAt();
    await until(async () => (await checkedAt()) > second, { timeoutMs: 30_000, intervalMs: 50 });
    expect(await stateOf('smtp_ingress')).toBe('maintenance');
    expect((await changes('smtp_ingress')).length).toBe(runs);
    expect(await sampled()).toBeGreaterThan(0);

    await app.context.status.maintenance.cancel(ACTOR, window.id);
    await reaches('smtp_ingress', 'major_outage');
    await startListener(smtpPort);
    await reaches('smtp_ingress', 'operational');
  });
});
