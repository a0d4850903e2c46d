import { canonicalJson } from '../crypto/canonical-json.js';
import type { AuditEvent } from './audit-event.js';

/**
 * The audit export file formats. Both start with the checkpoint every proof in the file is
 * computed against, then one record per event with its index and inclusion proof, so the file
 * verifies offline with nothing but the log's public key (`verifyAuditExport` in
 * @sealpost/verify).
 *
 * JSONL: every line is the RFC 8785 canonical JSON of one object, so a verifier can refuse any
 * byte that is not exactly what was exported.
 *   {"checkpoint":"<signed note>","format":"sealpost-audit-export/v1","tenant":"ten_…"}
 *   {"event":{…},"index":12,"proof":["<base64>",…]}
 *
 * CSV (RFC 4180, CRLF): a header row, a `checkpoint` row carrying the note in the `event`
 * column, then `event` rows. `event` holds the event's canonical JSON; the columns before it
 * repeat some of its members for spreadsheets (cells starting with = + - @ are prefixed with '
 * so spreadsheets do not run them as formulas); `proof` holds hex hashes separated by spaces.
 */
export const EXPORT_FORMAT = 'sealpost-audit-export/v1';
export const CSV_COLUMNS = ['record', 'index', 'time', 'actor_type', 'actor_id', 'action', 'resource', 'event', 'proof'] as const;
export type ExportFormat = 'jsonl' | 'csv';

export interface ExportedEvent {
  readonly index: number;
  readonly event: AuditEvent;
  readonly proof: readonly Buffer[];
}

export function jsonlHeader(tenant: string, checkpointNote: string): string {
  return `${canonicalJson({ format: EXPORT_FORMAT, tenant, checkpoint: checkpointNote }).toString('utf8')}\n`;
}

export function jsonlEvent(record: ExportedEvent): string {
  return `${canonicalJson({ index: record.index, event: record.event, proof: record.proof.map((p) => p.toString('base64')) }).toString('utf8')}\n`;
}

/** OWASP CSV injection advice: a leading formula character is neutralised with a quote. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== safe.trim() ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export function csvHeader(checkpointNote: string): string {
  return csvRow(CSV_COLUMNS) + csvRow(['checkpoint', '', '', '', '', '', '', checkpointNote, '']);
}

export function csvEvent(record: ExportedEvent): string {
  const e = record.event;
  return csvRow([
    'event',
    String(record.index),
    e.time,
    e.actor.type,
    e.actor.id ?? '',
    e.action,
    e.resource ?? '',
    canonicalJson(e).toString('utf8'),
    record.proof.map((p) => p.toString('hex')).join(' '),
  ]);
}
