import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { GroupCommitter } from '../db/group-commit.js';
import type { Database } from '../db/schema.js';
import { MAX_USER_AGENT_CHARS, type AuditEvent } from './audit-event.js';
import type { AuditLog } from './audit-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * On audited routes: the work that writes this request's `api.request` event, answering
     * `status` and naming `resource`, for a route to run inside its action's own transaction.
     */
    auditInTransaction?: (status: number) => (tx: Kysely<Database>, resource?: string) => Promise<unknown>;
    /** Set by a route once that transaction committed, so the onResponse hook does not record the request again. */
    auditedInTransaction?: boolean;
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
    actor: { type: 'api_key', id: auth?.prefix ?? null },
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
export function auditRequestsHook(auditLog: AuditLog, committer: Pick<GroupCommitter, 'run'>, now: () => Date = () => new Date()) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.auditedInTransaction) return;
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
    request.auditInTransaction = (status) => (tx, resource) => auditLog.append(tx, requestEvent(request, status, now(), resource));
  };
}
