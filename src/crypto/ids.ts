import { ulid } from './ulid.js';

/**
 * Every kind of identifier Sealpost issues: `<prefix>_<ULID>`. The prefix tells a reader (and a
 * route's schema) what an id names, so an attachment id can never be taken for a payload id.
 */
export const ID_PREFIXES = {
  tenant: 'ten',
  apiKey: 'key',
  payload: 'msg',
  attachment: 'att',
  rawMessage: 'eml',
  inbox: 'inb',
  destination: 'dst',
  delivery: 'dlv',
  attempt: 'dla',
  receipt: 'rcp',
  dataKey: 'dek',
  auditLogKey: 'alk',
  operator: 'op',
  session: 'ses',
  operatorToken: 'otk',
  staff: 'stf',
  staffSession: 'sss',
  staffGrant: 'grt',
  backup: 'bak',
  drill: 'drl',
  breach: 'brc',
  securityReport: 'rpt',
  securityKey: 'pgk',
  evidence: 'evb',
  incident: 'inc',
  statusUpdate: 'stu',
  maintenance: 'mnt',
  statusSubscriber: 'sub',
  statusNotice: 'stn',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

/** A ULID as the ulid package encodes it: 26 Crockford base32 characters. */
export const ULID_PATTERN = '[0-9A-HJKMNP-TV-Z]{26}';

/** The JSON Schema / RegExp source matching exactly the ids of `kind`, anchored. */
export function idPattern(kind: IdKind): string {
  return `^${ID_PREFIXES[kind]}_${ULID_PATTERN}$`;
}

/** A new id of `kind`; `timeMs` sets the ULID's time part (receipts carry their issue time). */
export function newId(kind: IdKind, timeMs?: number): string {
  return `${ID_PREFIXES[kind]}_${ulid(timeMs)}`;
}

// The patterns are built from the constant table above, never from input.
// eslint-disable-next-line security/detect-non-literal-regexp
const PATTERNS = new Map<IdKind, RegExp>((Object.keys(ID_PREFIXES) as IdKind[]).map((kind) => [kind, new RegExp(idPattern(kind))]));

export function isId(kind: IdKind, value: string): boolean {
  return PATTERNS.get(kind)!.test(value);
}
