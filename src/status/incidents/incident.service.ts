import type { Kysely } from 'kysely';
import type { AuditActor } from '../../audit/audit-event.js';
import type { AuditRecorder } from '../../audit/audit-recorder.js';
import { newId } from '../../crypto/ids.js';
import type { Database } from '../../db/schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { actorName, checkedText, componentsOf } from '../maintenance.service.js';
import { signDocument, type LogKeySigner, type SignedDocument } from '../status-document.js';
import { canMove, isImpact, isIncidentState, type Incident, type IncidentState, type IncidentUpdate, type Postmortem } from './incident.js';
import type { IncidentRepository } from './incident.repository.js';

/** Public text limits: a title is a line, a message a few paragraphs, a postmortem a document. */
export const MAX_TITLE_CHARS = 200;
export const MAX_MESSAGE_CHARS = 5_000;
export const MAX_ROOT_CAUSE_CHARS = 1_000;
export const MAX_POSTMORTEM_CHARS = 100_000;
/** A waiver's reason sits in an audit event (2 KB of details). */
export const MAX_WAIVER_CHARS = 500;

export interface OpenIncidentInput {
  readonly title: string;
  readonly impact: string;
  readonly components: readonly string[];
  readonly customerVisible: boolean;
  readonly message: string;
}

function invalid(message: string): SealpostError {
  return new SealpostError('SP_ERR_STATUS_INPUT_INVALID', message);
}

/**
 * Incidents (issue 14): staff open one and post updates; each update and the postmortem is a
 * document signed with the deployment's audit log key, stored, and recorded in the audit log
 * (its SHA-256 in the event), so what the status page said, and when, can be proven later. A
 * customer-visible incident resolves only with a published postmortem or an audited waiver.
 */
export class IncidentService {
  constructor(
    private readonly incidents: IncidentRepository,
    private readonly deps: {
      db: Kysely<Database>;
      audit: AuditRecorder;
      sign: LogKeySigner;
      now: () => number;
      changed: () => void;
      /** Queues the update's notices to subscribers, in the update's transaction. */
      notify: (tx: Kysely<Database>, updateId: string) => Promise<void>;
    },
  ) {}

  async open(actor: AuditActor, input: OpenIncidentInput): Promise<{ incident: Incident; update: IncidentUpdate }> {
    const title = checkedText(input.title, MAX_TITLE_CHARS, 'The title');
    if (!isImpact(input.impact)) throw invalid('Impact must be none, minor, major or critical');
    const components = componentsOf(input.components);
    const message = checkedText(input.message, MAX_MESSAGE_CHARS, 'The message');
    const now = this.deps.now();
    const incident: Incident = {
      id: newId('incident', now),
      title,
      impact: input.impact,
      components,
      customerVisible: input.customerVisible,
      state: 'investigating',
      openedBy: actorName(actor),
      openedAt: now,
      updatedAt: now,
      resolvedAt: null,
      postmortemWaiver: null,
    };
    const { update, signed } = await this.signedUpdate(incident, 'investigating', message, now);
    await this.deps.db.transaction().execute(async (tx) => {
      await this.incidents.insert(tx, incident);
      await this.incidents.insertUpdate(tx, update);
      await this.deps.notify(tx, update.id);
      await this.deps.audit(tx, {
        tenant: null,
        actor,
        action: 'status.incident_opened',
        resource: incident.id,
        details: { update: update.id, impact: incident.impact, components, customer_visible: incident.customerVisible, document_sha256: signed.sha256 },
      });
    });
    this.deps.changed();
    return { incident, update };
  }

  async postUpdate(actor: AuditActor, id: string, input: { state: string; message: string }): Promise<{ incident: Incident; update: IncidentUpdate }> {
    if (!isIncidentState(input.state)) throw invalid('State must be investigating, identified, monitoring or resolved');
    const to = input.state;
    const message = checkedText(input.message, MAX_MESSAGE_CHARS, 'The message');
    const incident = await this.find(id);
    if (!canMove(incident.state, to)) throw new SealpostError('SP_ERR_STATUS_INCIDENT_STATE', `The incident is ${incident.state}; it cannot move to ${to}`);
    const now = this.deps.now();
    const { update, signed } = await this.signedUpdate(incident, to, message, now);
    await this.deps.db.transaction().execute(async (tx) => {
      // Checked inside the transaction: a postmortem or waiver published meanwhile counts, a missing one refuses.
      if (to === 'resolved' && incident.customerVisible && (await this.incidents.waiver(tx, id)) === null && !(await this.incidents.hasPostmortem(tx, id))) {
        throw new SealpostError('SP_ERR_STATUS_POSTMORTEM_REQUIRED', 'Publish the postmortem (or record a waiver with its reason) before resolving a customer-visible incident');
      }
      if (!(await this.incidents.moveState(tx, id, incident.state, to, now))) throw new SealpostError('SP_ERR_STATUS_INCIDENT_STATE', 'The incident changed meanwhile; reload and try again');
      await this.incidents.insertUpdate(tx, update);
      await this.deps.notify(tx, update.id);
      await this.deps.audit(tx, { tenant: null, actor, action: 'status.incident_updated', resource: id, details: { update: update.id, from: incident.state, state: to, document_sha256: signed.sha256 } });
    });
    this.deps.changed();
    return { incident: { ...incident, state: to, updatedAt: now, resolvedAt: to === 'resolved' ? now : null }, update };
  }

  /** The postmortem, once per incident: Markdown naming the root cause, signed like the updates. */
  async publishPostmortem(actor: AuditActor, id: string, input: { rootCause: string; markdown: string }): Promise<Postmortem> {
    const rootCause = checkedText(input.rootCause, MAX_ROOT_CAUSE_CHARS, 'The root cause');
    const markdown = checkedText(input.markdown, MAX_POSTMORTEM_CHARS, 'The postmortem');
    const incident = await this.find(id);
    const now = this.deps.now();
    const signed = await signDocument(
      { v: 1, kind: 'status.postmortem', incident: incident.id, title: incident.title, root_cause: rootCause, markdown, published_at: new Date(now).toISOString() },
      this.deps.sign,
    );
    const postmortem: Postmortem = { incidentId: id, publishedAt: now, document: signed.text };
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.incidents.insertPostmortem(tx, postmortem))) throw new SealpostError('SP_ERR_STATUS_POSTMORTEM_EXISTS', 'The incident already has a postmortem');
      await this.incidents.touch(tx, id, now);
      await this.deps.audit(tx, { tenant: null, actor, action: 'status.postmortem_published', resource: id, details: { document_sha256: signed.sha256 } });
    });
    this.deps.changed();
    return postmortem;
  }

  /** Lets a customer-visible incident close without a postmortem: a decision with a reason, in the audit log. */
  async waivePostmortem(actor: AuditActor, id: string, reason: string): Promise<Incident> {
    const text = checkedText(reason, MAX_WAIVER_CHARS, 'The reason');
    if (text.length < 10) throw invalid('Give a reason of at least 10 characters');
    const incident = await this.find(id);
    if (!incident.customerVisible) throw new SealpostError('SP_ERR_STATUS_INCIDENT_STATE', 'Only a customer-visible incident needs a postmortem');
    const now = this.deps.now();
    await this.deps.db.transaction().execute(async (tx) => {
      if (!(await this.incidents.setWaiver(tx, id, text, now))) throw new SealpostError('SP_ERR_STATUS_INCIDENT_STATE', 'The incident is resolved or already has a waiver');
      await this.deps.audit(tx, { tenant: null, actor, action: 'status.postmortem_waived', resource: id, details: { reason: text } });
    });
    return { ...incident, postmortemWaiver: text, updatedAt: now };
  }

  async find(id: string): Promise<Incident> {
    const incident = await this.incidents.find(id);
    if (!incident) throw new SealpostError('SP_ERR_RESOURCE_NOT_FOUND', 'No such incident');
    return incident;
  }

  private async signedUpdate(incident: Incident, state: IncidentState, message: string, now: number): Promise<{ update: IncidentUpdate; signed: SignedDocument }> {
    const id = newId('statusUpdate', now);
    const signed = await signDocument(
      {
        v: 1,
        kind: 'status.update',
        id,
        incident: incident.id,
        title: incident.title,
        impact: incident.impact,
        components: [...incident.components],
        customer_visible: incident.customerVisible,
        state,
        message,
        posted_at: new Date(now).toISOString(),
      },
      this.deps.sign,
    );
    return { update: { id, incidentId: incident.id, state, postedAt: now, document: signed.text }, signed };
  }
}
