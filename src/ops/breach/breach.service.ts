import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import type { Logger } from '../../logging/logger.js';
import type { OutboundMailer } from '../../mail/outbound-mailer.js';
import type { NoticeRecipients } from '../security-contacts/security-contact.service.js';
import type { BreachNotice, BreachRecord, BreachRepository } from './breach.repository.js';

const HOUR_MS = 3_600_000;
/** The promise to customers: affected tenants are notified within 72 hours of a confirmed breach. */
export const BREACH_WINDOW_MS = 72 * HOUR_MS;
/** Staff are alerted at these ages of a clock whose tenant has not been notified yet. */
export const ALERT_AT = [
  { hours: 48, column: 'alerted_48h_at' },
  { hours: 66, column: 'alerted_66h_at' },
] as const;
/** One breach names at most this many tenants: a deployment-wide breach is declared in batches. */
export const MAX_BREACH_TENANTS = 1_000;
/** Notices sent per run; the rest wait for the next minute's run. */
const SEND_BATCH = 200;
/** 256 random bits: the acknowledgement link must be unguessable; only its SHA-256 is stored. */
const ACK_TOKEN_BYTES = 32;
/** Who sends notices and alerts: the scheduler's job (or the declaring process, right after the declaration). */
const SENDER: AuditActor = { type: 'system', id: 'breach-notices' };

export interface BreachInput {
  readonly title: string;
  readonly summary: string;
  readonly tenants: readonly string[];
  readonly incidentId?: string | null;
}

export interface NoticeView extends BreachNotice {
  /** For a sent notice: whether its `breach.notice_sent` audit event matches the row (a row edited in the database does not). */
  readonly evidence: 'audit_event' | 'missing' | null;
}

export interface BreachView extends BreachRecord {
  readonly notices: readonly NoticeView[];
}

export interface BreachDeps {
  readonly db: Kysely<Database>;
  readonly repository: BreachRepository;
  /** Where a tenant's notice goes (security contacts, or its owners). */
  readonly recipients: (tenantId: string) => Promise<NoticeRecipients>;
  /** Whether a tenant exists and is not erased. */
  readonly tenantIsLive: (tenantId: string) => Promise<boolean>;
  /** Whether the status page has this incident: a breach confirms an incident that exists, or none. */
  readonly incidentExists: (incidentId: string) => Promise<boolean>;
  /** E-mail addresses of enabled staff: who the deadline alerts go to. */
  readonly staffEmails: () => Promise<readonly string[]>;
  readonly mailer: OutboundMailer;
  readonly publicUrl: string;
  readonly deploymentTenant: string;
  readonly audit: AuditRecorder;
  /** Runs `work` holding the breach-notice lock (one sender in the fleet); false if another holds it. */
  readonly exclusive: (work: () => Promise<void>) => Promise<boolean>;
  readonly logger: Logger;
  readonly now: () => number;
}

const sha256Hex = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
const iso = (ms: number): string => new Date(ms).toISOString();

function invalid(message: string): SealpostError {
  return new SealpostError('SP_ERR_BREACH_INVALID', message);
}

/**
 * The 72-hour breach workflow (docs/security-operations.md): staff declare a confirmed breach
 * naming the affected tenants; each tenant's clock starts; the notice goes by e-mail to its
 * security contacts (or owners) with a one-time acknowledgement link; staff are alerted at 48 h
 * and 66 h for any tenant not yet notified. Every step is in the affected tenant's audit log, and
 * the declaration in the deployment tenant's too.
 */
export class BreachService {
  constructor(private readonly deps: BreachDeps) {}

  async declare(input: BreachInput, actor: AuditActor): Promise<BreachView> {
    const title = input.title.trim();
    const summary = input.summary.trim();
    if (title.length < 3 || title.length > 200) throw invalid('The title must be 3 to 200 characters');
    if (summary.length < 10 || summary.length > 4_000) throw invalid('The summary must be 10 to 4000 characters');
    const tenants = [...new Set(input.tenants)];
    if (tenants.length === 0 || tenants.length > MAX_BREACH_TENANTS) throw invalid(`Name 1 to ${MAX_BREACH_TENANTS} affected tenants`);
    for (const tenant of tenants) {
      if (tenant === this.deps.deploymentTenant || !(await this.deps.tenantIsLive(tenant))) throw invalid(`${tenant} is not a customer tenant that can be notified`);
    }
    if (input.incidentId && !(await this.deps.incidentExists(input.incidentId))) throw invalid(`${input.incidentId} is not an incident of the status page`);
    const at = this.deps.now();
    const breach: BreachRecord = { id: newId('breach'), incidentId: input.incidentId ?? null, title, declaredBy: `${actor.type}:${actor.id ?? 'unknown'}`, declaredAt: at };
    const sealed = await this.deps.repository.sealSummary(breach.id, summary);
    await this.deps.db.transaction().execute(async (tx) => {
      await this.deps.repository.insert(breach, sealed, tenants, BREACH_WINDOW_MS, tx);
      for (const tenant of tenants) {
        await this.deps.audit(tx, { tenant, actor, action: 'breach.declared', resource: breach.id, details: { deadline_at: iso(at + BREACH_WINDOW_MS) } });
      }
      await this.deps.audit(tx, {
        tenant: this.deps.deploymentTenant,
        actor,
        action: 'breach.declared',
        resource: breach.id,
        details: { tenants: tenants.length, deadline_at: iso(at + BREACH_WINDOW_MS), ...(breach.incidentId ? { incident: breach.incidentId } : {}) },
      });
    });
    // Sent at once when mail works; the scheduler's job retries what could not go now.
    await this.run().catch((err: unknown) => this.deps.logger.error({ err, breach: breach.id }, 'breach notices could not all be sent now; the scheduler retries'));
    return this.show(breach.id);
  }

  /** The scheduler's job (every minute): unsent notices go out, then the due 48 h / 66 h alerts. One process at a time. */
  async run(): Promise<void> {
    await this.deps.exclusive(async () => {
      await this.sendPending();
      await this.alertDeadlines();
    });
  }

  /** Staff notified a tenant another way (phone, their own mail): recorded, audited, and the alerts stop. */
  async markNotified(breachId: string, tenantId: string, actor: AuditActor): Promise<NoticeView> {
    const notice = await this.noticeOrThrow(breachId, tenantId);
    if (notice.notifiedAt !== null) throw new SealpostError('SP_ERR_BREACH_ALREADY_NOTIFIED', 'This tenant has already been notified of this breach');
    const at = this.deps.now();
    const by = `${actor.type}:${actor.id ?? 'unknown'}`;
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.deps.repository.markNotified(breachId, tenantId, { at, by, via: 'manual', recipients: 0, ackTokenSha256: null }, tx))) {
        throw new SealpostError('SP_ERR_BREACH_ALREADY_NOTIFIED', 'This tenant has already been notified of this breach');
      }
      await this.deps.audit(tx, { tenant: tenantId, actor, action: 'breach.notice_sent', resource: breachId, details: sentDetails(notice, at, 'manual', 0) });
    });
    return this.noticeView(await this.noticeOrThrow(breachId, tenantId));
  }

  /** The one-time link from the notice (public route). Says nothing about why a token is refused. */
  async acknowledge(token: string): Promise<{ breach: string; tenant: string }> {
    const refused = (): SealpostError => new SealpostError('SP_ERR_BREACH_ACK_INVALID', 'This acknowledgement link is invalid or was already used');
    if (!/^spb_[A-Za-z0-9_-]{43}$/.test(token)) throw refused();
    const notice = await this.deps.repository.findByAckToken(sha256Hex(token));
    if (!notice) throw refused();
    await this.recordAck(notice, { type: 'system', id: 'ack-link' }, 'link', refused);
    return { breach: notice.breachId, tenant: notice.tenantId };
  }

  /** Staff record an acknowledgement the tenant gave another way. */
  async acknowledgeByStaff(breachId: string, tenantId: string, actor: AuditActor): Promise<NoticeView> {
    const notice = await this.noticeOrThrow(breachId, tenantId);
    if (notice.notifiedAt === null) throw new SealpostError('SP_ERR_BREACH_NOT_NOTIFIED', 'The tenant has not been notified yet: record the notice first');
    await this.recordAck(notice, actor, 'staff', () => new SealpostError('SP_ERR_BREACH_ALREADY_ACKNOWLEDGED', 'The tenant has already acknowledged this notice'));
    return this.noticeView(await this.noticeOrThrow(breachId, tenantId));
  }

  async list(limit = 100): Promise<BreachRecord[]> {
    return this.deps.repository.list(limit);
  }

  async show(id: string): Promise<BreachView> {
    const breach = await this.deps.repository.find(id);
    if (!breach) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such breach');
    const notices = await this.deps.repository.notices(id);
    return { ...breach, notices: await Promise.all(notices.map((n) => this.noticeView(n))) };
  }

  private async recordAck(notice: BreachNotice, actor: AuditActor, via: 'link' | 'staff', refused: () => SealpostError): Promise<void> {
    const at = this.deps.now();
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.deps.repository.markAcknowledged(notice.breachId, notice.tenantId, at, tx))) throw refused();
      await this.deps.audit(tx, { tenant: notice.tenantId, actor, action: 'breach.notice_acknowledged', resource: notice.breachId, details: { via, acknowledged_at: iso(at) } });
    });
  }

  private async sendPending(): Promise<void> {
    const unsent = await this.deps.repository.unsent(SEND_BATCH);
    if (unsent.length === 0) return;
    if (!this.deps.mailer.configured) {
      this.deps.logger.error({ notices: unsent.length }, 'breach notices are waiting: outbound mail is not configured (SEALPOST_OUTBOUND_SMTP_URL)');
      return;
    }
    for (const notice of unsent) {
      const breach = await this.deps.repository.find(notice.breachId);
      const summary = await this.deps.repository.summary(notice.breachId);
      if (!breach || summary === undefined) continue;
      const to = await this.deps.recipients(notice.tenantId);
      if (to.addresses.length === 0) {
        // Nobody to write to: the 48 h / 66 h alerts tell staff to reach the tenant another way.
        this.deps.logger.error({ breach: notice.breachId, tenant: notice.tenantId }, 'breach notice has no recipient (no security contacts, no owners)');
        continue;
      }
      const token = `spb_${randomBytes(ACK_TOKEN_BYTES).toString('base64url')}`;
      const text = noticeText(breach, summary, notice, `${this.deps.publicUrl}/v1/breach-notices/ack?token=${token}`);
      try {
        // One message per address: no recipient learns the others, and one bad address does not stop the rest.
        for (const address of to.addresses) await this.deps.mailer.send({ to: address, subject: `[Security notice] ${breach.title}`, text });
      } catch (err) {
        this.deps.logger.error({ err, breach: notice.breachId, tenant: notice.tenantId }, 'breach notice could not be sent; retried next run');
        continue;
      }
      const at = this.deps.now();
      await this.deps.db.transaction().execute(async (tx) => {
        const recorded = await this.deps.repository.markNotified(notice.breachId, notice.tenantId, { at, by: `${SENDER.type}:${SENDER.id}`, via: 'email', recipients: to.addresses.length, ackTokenSha256: sha256Hex(token) }, tx);
        if (!recorded) return;
        await this.deps.audit(tx, { tenant: notice.tenantId, actor: SENDER, action: 'breach.notice_sent', resource: notice.breachId, details: { ...sentDetails(notice, at, 'email', to.addresses.length), to: to.source } });
      });
    }
  }

  private async alertDeadlines(): Promise<void> {
    const now = this.deps.now();
    // The later alert first: a clock found past 66 h (a scheduler that was down) gets one alert, the urgent one.
    for (const alert of [...ALERT_AT].reverse()) {
      const due = await this.deps.repository.dueAlerts(alert.column, now - alert.hours * HOUR_MS);
      if (due.length === 0) continue;
      const staff = await this.deps.staffEmails();
      const byBreach = new Map<string, BreachNotice[]>();
      for (const notice of due) byBreach.set(notice.breachId, [...(byBreach.get(notice.breachId) ?? []), notice]);
      for (const [breachId, notices] of byBreach) {
        const breach = await this.deps.repository.find(breachId);
        if (!breach) continue;
        if (staff.length === 0) this.deps.logger.error({ breach: breachId, hours: alert.hours }, 'breach deadline alert: no enabled staff member to alert');
        try {
          const text = alertText(breach, notices, alert.hours);
          for (const address of staff) await this.deps.mailer.send({ to: address, subject: `[Breach ${alert.hours} h] ${notices.length} tenant(s) not yet notified: ${breach.title}`, text });
        } catch (err) {
          this.deps.logger.error({ err, breach: breachId, hours: alert.hours }, 'breach deadline alert could not be sent; retried next run');
          continue;
        }
        await this.deps.db.transaction().execute(async (tx) => {
          for (const notice of notices) {
            if (!(await this.deps.repository.markAlerted(breachId, notice.tenantId, alert.column, now, tx))) continue;
            if (alert.hours === 66) await this.deps.repository.markAlerted(breachId, notice.tenantId, 'alerted_48h_at', now, tx);
            await this.deps.audit(tx, {
              tenant: notice.tenantId,
              actor: SENDER,
              action: 'breach.deadline_alert',
              resource: breachId,
              details: { hours: alert.hours, deadline_at: iso(notice.deadlineAt), staff_alerted: staff.length },
            });
          }
        });
      }
    }
  }

  private async noticeOrThrow(breachId: string, tenantId: string): Promise<BreachNotice> {
    const notice = await this.deps.repository.notice(breachId, tenantId);
    if (!notice) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such breach, or the tenant is not affected by it');
    return notice;
  }

  /**
   * A sent mark is trusted only with its audit event: the log is hash-chained and checkpointed
   * (`sealpost audit verify`), the row is not. A row edited to look sent has no matching event.
   */
  private async noticeView(notice: BreachNotice): Promise<NoticeView> {
    if (notice.notifiedAt === null) return { ...notice, evidence: null };
    const expected = iso(notice.notifiedAt);
    const events = await this.deps.repository.sentEvents(notice.tenantId, notice.breachId);
    const matches = events.some((event) => {
      const details = (JSON.parse(event) as { details?: { notified_at?: unknown; via?: unknown; recipients?: unknown } }).details;
      return details?.notified_at === expected && details.via === notice.notifiedVia && details.recipients === notice.recipients;
    });
    return { ...notice, evidence: matches ? 'audit_event' : 'missing' };
  }
}

function sentDetails(notice: BreachNotice, at: number, via: 'email' | 'manual', recipients: number): Record<string, string | number | boolean> {
  return { via, recipients, notified_at: iso(at), deadline_at: iso(notice.deadlineAt), within_deadline: at <= notice.deadlineAt };
}

function noticeText(breach: BreachRecord, summary: string, notice: BreachNotice, ackUrl: string): string {
  return [
    `This is a security notice from the operators of the Sealpost service you use.`,
    '',
    `A confirmed security breach affects your tenant (${notice.tenantId}).`,
    `Breach: ${breach.title} (reference ${breach.id})`,
    `Confirmed: ${iso(breach.declaredAt)}`,
    '',
    summary,
    '',
    `Please confirm you received this notice (one click, then one button):`,
    ackUrl,
    '',
    `Updates follow on the status page and by the same channel.`,
  ].join('\n');
}

function alertText(breach: BreachRecord, notices: readonly BreachNotice[], hours: number): string {
  return [
    `${hours} hours have passed since breach ${breach.id} (${breach.title}) was confirmed.`,
    `These tenants have not been notified yet; the 72-hour deadline is near:`,
    ...notices.map((n) => `- ${n.tenantId}  deadline ${iso(n.deadlineAt)}`),
    '',
    `Notify them (sealpost breach notified ${breach.id} --tenant <id> once done another way).`,
  ].join('\n');
}
