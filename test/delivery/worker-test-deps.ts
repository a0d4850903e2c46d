import { AuditLog } from '../../src/audit/audit-log.js';
import { auditRecorder, type AuditRecorder } from '../../src/audit/audit-recorder.js';
import type { RequestSigner } from '../../src/delivery/request-signer.js';

/**
 * For tests about delivery mechanics rather than signatures: adds no headers. The worker has
 * no unsigned mode of its own (its signer is a required dependency); only tests opt out.
 */
export const noSignature: RequestSigner = { sign: async () => ({}) };

/** The worker's own audit events (`destination.disabled`), written to the test database's log. */
export const testAudit: AuditRecorder = auditRecorder(new AuditLog());
