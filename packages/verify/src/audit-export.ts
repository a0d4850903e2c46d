import { canonicalize, canonicalizeToBuffer } from './canonical-json.js';
import { verifyCheckpoint, type LogVerifierKey, type VerifiedCheckpoint } from './checkpoint.js';
import { VerifyError } from './errors.js';
import { hashLeaf, verifyInclusion } from './merkle.js';

const EXPORT_FORMAT = 'sealpost-audit-export/v1';
const CSV_COLUMNS = ['record', 'index', 'time', 'actor_type', 'actor_id', 'action', 'resource', 'event', 'proof'];

/**
 * One event of a verified export.
 *
 * @example
 * ```ts
 * import type { ExportedAuditEvent } from '@sealpost/verify';
 * const line = (e: ExportedAuditEvent): string => `#${e.index} ${String(e.event.time)} ${String(e.event.action)}`;
 * ```
 */
export interface ExportedAuditEvent {
  /** Position in Sealpost's global audit log. */
  readonly index: number;
  /** The event as logged (`time`, `tenant`, `actor`, `action`, …). */
  readonly event: Readonly<Record<string, unknown>>;
}

/**
 * A verified audit export: the checkpoint it is anchored to and every event in it.
 *
 * @example
 * ```ts
 * import type { VerifiedAuditExport } from '@sealpost/verify';
 * const summary = (v: VerifiedAuditExport): string => `${v.events.length} events of ${v.tenant} in a log of ${v.checkpoint.treeSize}`;
 * ```
 */
export interface VerifiedAuditExport {
  readonly format: 'jsonl' | 'csv';
  readonly checkpoint: VerifiedCheckpoint;
  /** The tenant every event belongs to. */
  readonly tenant: string | null;
  readonly events: readonly ExportedAuditEvent[];
}

function malformed(message: string): VerifyError {
  return new VerifyError('SP_VERIFY_MALFORMED_INPUT', message);
}

function decodeHash(text: unknown, encoding: 'base64' | 'hex'): Buffer {
  if (typeof text !== 'string') throw malformed('proof hash must be a string');
  const bytes = Buffer.from(text, encoding);
  // Only the canonical spelling: Node's decoders skip stray characters and padding bits.
  if (bytes.length !== 32 || bytes.toString(encoding) !== text) throw malformed('proof hash is not 32 bytes in canonical encoding');
  return bytes;
}

function hasExactly(value: unknown, names: readonly string[]): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value).sort();
  return keys.length === names.length && [...names].sort().every((name, i) => keys[i] === name);
}

interface Collector {
  readonly checkpoint: VerifiedCheckpoint;
  tenant: string | null;
  readonly events: ExportedAuditEvent[];
}

/** The rules shared by both formats: ascending indexes, one tenant, a proof to the checkpoint. */
function acceptEvent(into: Collector, index: unknown, event: unknown, proof: readonly Buffer[], where: string): void {
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw malformed(`${where}: index must be a non-negative integer`);
  const previous = into.events[into.events.length - 1];
  if (previous !== undefined && index <= previous.index) throw malformed(`${where}: indexes must increase`);
  if (event === null || typeof event !== 'object' || Array.isArray(event)) throw malformed(`${where}: event must be an object`);
  const tenant = (event as Record<string, unknown>).tenant;
  if (typeof tenant !== 'string') throw malformed(`${where}: event has no tenant`);
  if (into.tenant === null) into.tenant = tenant;
  else if (tenant !== into.tenant) throw malformed(`${where}: event belongs to another tenant`);
  const leaf = hashLeaf(canonicalizeToBuffer(event));
  if (!verifyInclusion(leaf, index, into.checkpoint.treeSize, proof, into.checkpoint.rootHash)) {
    // The signed checkpoint does not cover this event as written: its signature does not extend to it.
    throw new VerifyError('SP_VERIFY_BAD_SIGNATURE', `${where}: event ${index} is not covered by the signed checkpoint`);
  }
  into.events.push({ index, event: event as Record<string, unknown> });
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed(`${where}: not JSON`);
  }
}

function verifyJsonl(text: string, key: LogVerifierKey | string, origin: string | undefined): VerifiedAuditExport {
  const lines = text.slice(0, -1).split('\n');
  const parsed = lines.map((line, i) => {
    const value = parseJson(line, `line ${i + 1}`);
    // Every line is exactly the canonical JSON of its value: no byte may differ.
    if (canonicalize(value) !== line) throw malformed(`line ${i + 1}: not canonical JSON`);
    return value;
  });
  const header = parsed[0];
  if (!hasExactly(header, ['checkpoint', 'format', 'tenant']) || header.format !== EXPORT_FORMAT || typeof header.tenant !== 'string' || typeof header.checkpoint !== 'string') {
    throw malformed('line 1: not a sealpost-audit-export/v1 header');
  }
  const into: Collector = { checkpoint: verifyCheckpoint(header.checkpoint, key, { origin }), tenant: header.tenant, events: [] };
  parsed.slice(1).forEach((record, i) => {
    const where = `line ${i + 2}`;
    if (!hasExactly(record, ['event', 'index', 'proof']) || !Array.isArray(record.proof)) throw malformed(`${where}: not an event record`);
    acceptEvent(into, record.index, record.event, record.proof.map((p: unknown) => decodeHash(p, 'base64')), where);
  });
  return { format: 'jsonl', checkpoint: into.checkpoint, tenant: into.tenant, events: into.events };
}

/** RFC 4180 with CRLF line ends; strict: a field is quoted entirely or not at all. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i += 1;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw malformed('unterminated quoted CSV field');
        field += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        field += '"';
        i += 1;
      }
    } else {
      const end = text.slice(i).search(/[,\r\n"]/);
      field = end < 0 ? text.slice(i) : text.slice(i, i + end);
      i += field.length;
      if (text[i] === '"') throw malformed('quote inside an unquoted CSV field');
    }
    row.push(field);
    if (text[i] === ',') {
      i += 1;
      continue;
    }
    if (text.startsWith('\r\n', i)) {
      i += 2;
      rows.push(row);
      row = [];
      if (i === text.length) return rows;
      continue;
    }
    throw malformed('CSV rows must end in CRLF');
  }
}

/** The exporter's guard against spreadsheet formulas: a leading = + - @ gets a quote before it. */
function neutralise(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** The exporter's quoting rule, so the file can be compared byte for byte with what it must be. */
function quoteCell(cell: string): string {
  return /[",\r\n]/.test(cell) || cell !== cell.trim() ? `"${cell.replaceAll('"', '""')}"` : cell;
}

function verifyCsv(text: string, key: LogVerifierKey | string, origin: string | undefined): VerifiedAuditExport {
  const rows = parseCsv(text);
  const [header, checkpointRow, ...eventRows] = rows;
  if (header?.join(',') !== CSV_COLUMNS.join(',')) throw malformed('row 1: not the audit export CSV header');
  if (checkpointRow?.length !== CSV_COLUMNS.length || checkpointRow[0] !== 'checkpoint' || checkpointRow.some((cell, i) => i !== 7 && i !== 0 && cell !== '')) {
    throw malformed('row 2: not the checkpoint row');
  }
  const note = (checkpointRow[7] as string).replace(/^'(?=[=+\-@\t\r])/, '');
  if (neutralise(note) !== checkpointRow[7]) throw malformed('row 2: checkpoint cell is not in the exporter\'s form');
  const into: Collector = { checkpoint: verifyCheckpoint(note, key, { origin }), tenant: null, events: [] };
  eventRows.forEach((cells, i) => {
    const where = `row ${i + 3}`;
    const [record, index, , , , , , eventText, proofText] = cells;
    if (cells.length !== CSV_COLUMNS.length || record !== 'event' || index === undefined || eventText === undefined || proofText === undefined) {
      throw malformed(`${where}: not an event row`);
    }
    if (!/^(0|[1-9][0-9]{0,15})$/.test(index)) throw malformed(`${where}: index is not a decimal integer`);
    const event = parseJson(eventText, where) as Record<string, unknown>;
    if (canonicalize(event) !== eventText) throw malformed(`${where}: event is not canonical JSON`);
    const actor = (event.actor ?? {}) as Record<string, unknown>;
    const derived = ['event', index, event.time, actor.type, actor.id ?? '', event.action, event.resource ?? '', eventText, proofText];
    // The spreadsheet columns must repeat the event exactly.
    if (derived.some((value, c) => typeof value !== 'string' || neutralise(value) !== cells[c])) {
      throw malformed(`${where}: columns differ from the event`);
    }
    acceptEvent(into, Number(index), event, proofText === '' ? [] : proofText.split(' ').map((p) => decodeHash(p, 'hex')), where);
  });
  // Finally the file must be exactly what the exporter writes for these rows (quoting included).
  const rewritten = rows.map((r) => `${r.map(quoteCell).join(',')}\r\n`).join('');
  if (rewritten !== text) throw malformed('CSV is not in the exporter\'s exact form');
  return { format: 'csv', checkpoint: into.checkpoint, tenant: into.tenant, events: into.events };
}

/**
 * Verifies an audit export file of `POST /v1/audit/exports` (JSONL or CSV, told apart by its
 * first bytes) offline, with only the log's verifier key: the checkpoint at its top must be
 * signed by the key, and every event must be proven included in that checkpoint's tree at its
 * index. The file must be byte for byte what Sealpost wrote: any change fails.
 *
 * Throws {@link VerifyError}: `SP_VERIFY_MALFORMED_INPUT` (not an export, or changed in form),
 * `SP_VERIFY_UNKNOWN_KEY` / `SP_VERIFY_BAD_SIGNATURE` (checkpoint not signed by the key), or
 * `SP_VERIFY_BAD_SIGNATURE` for an event the signed checkpoint does not cover.
 *
 * The export covers the events up to its checkpoint; the requested time range is not signed,
 * so check the events' times if that matters to you.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { verifyAuditExport } from '@sealpost/verify';
 * const result = verifyAuditExport(readFileSync('audit.jsonl'), readFileSync('sealpost-log-key.txt', 'utf8'));
 * console.log(`${result.events.length} events verified against tree size ${result.checkpoint.treeSize}`);
 * ```
 */
export function verifyAuditExport(file: string | Uint8Array, verifierKey: LogVerifierKey | string, options: { origin?: string } = {}): VerifiedAuditExport {
  let text: string;
  if (typeof file === 'string') {
    text = file;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(file);
    } catch {
      throw malformed('export is not UTF-8');
    }
  }
  if (text.startsWith('{') && text.endsWith('\n')) return verifyJsonl(text, verifierKey, options.origin);
  if (text.startsWith('record,')) return verifyCsv(text, verifierKey, options.origin);
  throw malformed('not a Sealpost audit export');
}
