import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GroupCommitter } from '../db/group-commit.js';
import { MAX_USER_AGENT_CHARS, type AuditEvent } from './audit-event.js';
import type { AuditLog } from './audit-log.js';
import type { PreparedWrite } from '../db/prepared-write.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * On audited routes: the work that writes this request's `api.request` event, answering
     * `status` and naming `resource`, for a route to run inside its action's own transaction.
     */
    auditInTransaction?: (status: number) => (resource?: string) => PreparedWrite;
    /** Set by a route once that transaction committed, so the onResponse hook does not record the request again. */
    auditedInTransaction?: boolean;
  }
}

/** Answers that refuse a request before any action: no valid key (401), over a rate limit (429). */
const REFUSED_STATUSES = new Set([401, 429]);
/** Refusals stored one event each, per client IP (and tenant) and minute; the rest are counted. */
export const REFUSALS_STORED_PER_MINUTE = 5;
/**
 * Distinct clients tracked per minute; refusals from clients beyond it are counted under one
 * `other` entry, so a flood from many addresses (IPv6 gives plenty) cannot grow memory without bound.
 */
const MAX_TRACKED_CLIENTS = 10_000;
const MINUTE_MS = 60_000;

interface RefusalCount {
  readonly ip: string;
  readonly tenant: string | null;
  stored: number;
  counted: number;
  statuses: Record<string, number>;
}

/**
 * Refused API requests (401, 429) per client IP (and tenant, for a key over its limit) and
 * minute: the first REFUSALS_STORED_PER_MINUTE are recorded as ordinary `api.request` events,
 * the rest only counted here and written as one `api.refused` event {ip, minute, count,
 * statuses} per client and minute when the minute is over (or the server closes). A flood of
 * refused requests thus costs a bounded number of rows: per process, at most
 * REFUSALS_STORED_PER_MINUTE + 1 per client and minute. The counts are in this process's
 * memory: with several API processes each writes its own aggregate, and a crash loses at most
 * the current minute's count (never an event of an accepted action).
 */
export class RefusedRequests {
  private minute = -1;
  private counts = new Map<string, RefusalCount>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (event: AuditEvent) => Promise<unknown>,
    private readonly now: () => number = Date.now,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Refusals counted and not yet written. */
  get pending(): number {
    let n = 0;
    for (const entry of this.counts.values()) n += entry.counted;
    return n;
  }

  /** Counts one refusal; true when it should still be stored as its own event. */
  admit(ip: string, status: number, tenant: string | null): boolean {
    const now = this.now();
    const minute = now - (now % MINUTE_MS);
    if (minute !== this.minute) {
      void this.flush();
      this.minute = minute;
    }
    let key = `${ip}\n${tenant ?? ''}`;
    if (!this.counts.has(key) && this.counts.size >= MAX_TRACKED_CLIENTS) key = `other\n${tenant ?? ''}`;
    let entry = this.counts.get(key);
    if (!entry) {
      entry = { ip: key.startsWith('other\n') ? 'other' : ip, tenant, stored: 0, counted: 0, statuses: {} };
      this.counts.set(key, entry);
    }
    if (entry.stored < REFUSALS_STORED_PER_MINUTE) {
      entry.stored += 1;
      return true;
    }
    entry.counted += 1;
    entry.statuses[String(status)] = (entry.statuses[String(status)] ?? 0) + 1;
    if (!this.timer) {
      // Written once the minute is over; unref'd, so a pending count never holds the process up.
      this.timer = setTimeout(() => void this.flush(), Math.max(0, minute + MINUTE_MS - now)).unref();
    }
    return false;
  }

  /** Writes one `api.refused` event per client with counted refusals, and starts counting afresh. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const minute = this.minute;
    const entries = [...this.counts.values()];
    this.counts = new Map();
    this.flushing = this.flushing.then(async () => {
      for (const entry of entries) {
        if (entry.counted === 0) continue;
        try {
          await this.write({
            time: new Date(this.now()).toISOString(),
            tenant: entry.tenant,
            actor: { type: 'system', id: 'api-refusal-counter' },
            action: 'api.refused',
            details: { ip: entry.ip, minute: new Date(minute).toISOString(), count: entry.counted, statuses: entry.statuses },
          });
        } catch (err) {
          this.onError(err);
        }
      }
    });
    return this.flushing;
  }
}

/** Route parameters that name the resource a request acts on. */
const RESOURCE_PARAM = 'id';

// String.prototype.toWellFormed is in Node 20 but not in TypeScript's ES2023 lib.
interface MaybeWellFormed {
  toWellFormed(): string;
}

/** The `api.request` event for a finished request: who, what route, which resource, what answer. */
export function requestEvent(request: FastifyRequest, status: number, now: Date, created?: string): AuditEvent {
  const auth = request.auth;
  const params = request.params as Record<string, unknown> | undefined;
  const resource = created ?? params?.[RESOURCE_PARAM];
  const userAgent = request.headers['user-agent'] ?? '';
  return {
    time: now.toISOString(),
    tenant: auth?.tenantId ?? null,
    // Without a valid key the caller is unidentified; the event still records the attempt.
    actor: auth?.actor ?? { type: 'api_key', id: null },
    action: 'api.request',
    ...(typeof resource === 'string' && resource.length > 0 && resource.length <= 128 ? { resource } : {}),
    request: {
      method: request.method,
      // The pattern, never the URL: query strings may carry anything.
      route: request.routeOptions.url ?? '(no route)',
      status,
      ip: request.ip || 'unknown',
      user_agent: (userAgent.slice(0, MAX_USER_AGENT_CHARS) as unknown as MaybeWellFormed).toWellFormed(),
      request_id: request.id,
    },
  };
}

/**
 * Fastify onResponse hook recording every request on the routes it is added to.
 *
 * Requests whose route wrote their event inside the action's transaction (see
 * offerInTransactionAudit; ingest does) are skipped. For the others it runs after the response
 * is sent, so the event goes into a transaction of its own — grouped with concurrent writers by
 * the GroupCommitter, so auditing every call does not cost a commit per call. That is acceptable because the request's
 * own writes have already committed, and the actions that matter to auditors (key changes,
 * destination changes, receipts, purges) record their own event inside their transaction,
 * which fails with them; this event only adds who called which route with what answer. A
 * failure here is logged, never turned into an error: the caller already has the answer.
 */
export function auditRequestsHook(
  auditLog: AuditLog,
  committer: Pick<GroupCommitter, 'run'>,
  now: () => Date = () => new Date(),
  refused?: Pick<RefusedRequests, 'admit'>,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.auditedInTransaction) return;
    // Past a few per client and minute, refused requests are counted, not stored one by one.
    if (refused && REFUSED_STATUSES.has(reply.statusCode) && !refused.admit(request.ip || 'unknown', reply.statusCode, request.auth?.tenantId ?? null)) return;
    try {
      const event = requestEvent(request, reply.statusCode, now());
      await committer.run((tx) => auditLog.append(tx, event));
    } catch (err) {
      request.log.error({ err }, 'audit event for this request could not be written');
    }
  };
}

/**
 * Fastify onRequest hook offering routes `request.auditInTransaction`. A route whose action has a
 * transaction (ingest) records the request in it, as the audit rules ask where there is one: the
 * event then commits or fails with the action, and costs no transaction of its own.
 */
export function offerInTransactionAudit(auditLog: AuditLog, now: () => Date = () => new Date()) {
  return async (request: FastifyRequest): Promise<void> => {
    request.auditInTransaction = (status) => (resource) => async (tx) => {
      await auditLog.append(tx, requestEvent(request, status, now(), resource));
    };
  };
}
