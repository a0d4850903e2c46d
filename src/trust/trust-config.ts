import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type * as Yaml from 'yaml';

/**
 * yaml, loaded only when a YAML trust file is configured (issue 16: not every process carries
 * it). Configuration loading is synchronous, so this is `require` (yaml ships CommonJS) where
 * other adapters use util/lazy-import.ts.
 */
const require = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
function loadYaml(): typeof Yaml {
  return (yamlModule ??= require('yaml') as typeof Yaml);
}

/**
 * `SEALPOST_TRUST_CONFIG`: what only people know about the deployment's security promises (the
 * compliance table, bounty ranges, contacts, security.txt fields), as YAML or JSON, versioned in
 * the operator's repository. Everything else on /security is measured live (trust-facts.ts).
 * deploy/trust.example.yaml documents every field.
 */

/** The file is a page of facts; a larger one is a mistake or an attempt to exhaust the parser. */
export const MAX_TRUST_CONFIG_BYTES = 256 * 1024;

const DATE = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' });
const TEXT = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const URI = Type.String({ minLength: 1, maxLength: 2048 });

export const COMPLIANCE_STATUSES = ['not-started', 'in-progress', 'compliant', 'certified', 'not-applicable'] as const;
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;

const ComplianceRow = Type.Object(
  {
    framework: Type.String({ minLength: 1, maxLength: 120 }),
    status: Type.Union(COMPLIANCE_STATUSES.map((s) => Type.Literal(s))),
    /** Last time someone reviewed where this stands; null or absent: never. */
    lastReview: Type.Optional(Type.Union([DATE, Type.Null()])),
    notes: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const Reward = Type.Object(
  {
    severity: Type.Union(SEVERITIES.map((s) => Type.Literal(s))),
    min: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    max: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' }),
  },
  { additionalProperties: false },
);

const Contact = Type.Object(
  {
    purpose: Type.String({ minLength: 1, maxLength: 120 }),
    email: Type.Optional(Type.String({ pattern: '^[^\\s@<>"]+@[^\\s@<>"]+$', maxLength: 254 })),
    url: Type.Optional(URI),
  },
  { additionalProperties: false },
);

export const TrustConfigSchema = Type.Object(
  {
    version: Type.Literal(1),
    /**
     * The date by which people re-review this file. security.txt never claims to be valid past it
     * (its Expires is the earlier of this and 90 days ahead), and `.ci/run` checks the example's.
     */
    reviewBy: DATE,
    organization: TEXT(200),
    securityTxt: Type.Object(
      {
        contact: Type.Array(URI, { minItems: 1, maxItems: 10 }),
        policy: Type.Optional(URI),
        acknowledgments: Type.Optional(URI),
        hiring: Type.Optional(URI),
        preferredLanguages: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$' }), { minItems: 1, maxItems: 20 })),
      },
      { additionalProperties: false },
    ),
    /** The fingerprint people expect the security key to have; /security warns when the key in use differs. */
    pgpFingerprint: Type.Optional(Type.String({ pattern: '^([0-9A-Fa-f]{4} ?){9}[0-9A-Fa-f]{4}$|^[0-9A-Fa-f]{64}$' })),
    contacts: Type.Array(Contact, { maxItems: 20 }),
    compliance: Type.Array(ComplianceRow, { maxItems: 50 }),
    bounty: Type.Object(
      {
        rewards: Type.Array(Reward, { maxItems: 10 }),
        inScope: Type.Optional(Type.Array(TEXT(300), { maxItems: 50 })),
        outOfScope: Type.Array(TEXT(300), { maxItems: 50 }),
      },
      { additionalProperties: false },
    ),
    customerResponsibilities: Type.Optional(Type.Array(TEXT(500), { maxItems: 30 })),
  },
  { additionalProperties: false },
);

export type TrustConfig = Static<typeof TrustConfigSchema>;

/** The file's fields with their JSON pointer: `/securityTxt/contact/0: must be …`. */
function schemaProblems(value: unknown): string[] {
  // The first reason per field: a missing field is also "not a string", which adds nothing.
  const byPath = new Map<string, string>();
  for (const error of Value.Errors(TrustConfigSchema, value)) {
    if (!byPath.has(error.path)) byPath.set(error.path, `${error.path || '/'}: ${error.message}`);
    if (byPath.size >= 20) break;
  }
  return [...byPath.values()];
}

function isDate(text: string): boolean {
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().startsWith(text);
}

function scheme(uri: string): string | undefined {
  return URL.canParse(uri) ? new URL(uri).protocol : undefined;
}

/** Rules the schema cannot say: real dates, URI schemes RFC 9116 allows, ranges in order. */
function ruleProblems(config: TrustConfig, now: number): string[] {
  const problems: string[] = [];
  if (!isDate(config.reviewBy)) problems.push(`/reviewBy: ${config.reviewBy} is not a date`);
  config.securityTxt.contact.forEach((uri, i) => {
    // RFC 9116 §2.5.3: a URI; mailto:, tel: or https: in practice (http: would let a network attacker swap it).
    if (!['mailto:', 'https:', 'tel:'].includes(scheme(uri) ?? '')) problems.push(`/securityTxt/contact/${i}: must be a mailto:, https: or tel: URI`);
  });
  for (const field of ['policy', 'acknowledgments', 'hiring'] as const) {
    const uri = config.securityTxt[field];
    // RFC 9116 §2.5: web URIs in security.txt MUST begin with https://.
    if (uri !== undefined && scheme(uri) !== 'https:') problems.push(`/securityTxt/${field}: must be an https:// URL`);
  }
  config.contacts.forEach((contact, i) => {
    if (contact.email === undefined && contact.url === undefined) problems.push(`/contacts/${i}: needs an email or a url`);
    if (contact.url !== undefined && scheme(contact.url) !== 'https:') problems.push(`/contacts/${i}/url: must be an https:// URL`);
  });
  config.compliance.forEach((row, i) => {
    if (typeof row.lastReview === 'string') {
      if (!isDate(row.lastReview)) problems.push(`/compliance/${i}/lastReview: ${row.lastReview} is not a date`);
      else if (Date.parse(row.lastReview) > now) problems.push(`/compliance/${i}/lastReview: ${row.lastReview} is in the future`);
    }
  });
  config.bounty.rewards.forEach((reward, i) => {
    if (reward.min > reward.max) problems.push(`/bounty/rewards/${i}: min (${reward.min}) is above max (${reward.max})`);
  });
  return problems;
}

/** Parses and checks the file's text; returns the config or every problem, each naming its field. */
export function parseTrustConfig(text: string, format: 'yaml' | 'json', now: number = Date.now()): { config: TrustConfig } | { problems: string[] } {
  let value: unknown;
  const parseYaml = format === 'json' ? undefined : loadYaml().parse;
  try {
    // YAML's alias limit (maxAliasCount) stops an alias bomb; duplicate keys are errors, not silently last-wins.
    value = parseYaml === undefined ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    return { problems: [`not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`] };
  }
  const shape = schemaProblems(value);
  if (shape.length > 0) return { problems: shape };
  const config = value as TrustConfig;
  const rules = ruleProblems(config, now);
  return rules.length > 0 ? { problems: rules } : { config };
}

/** Reads and checks the file at `file`; problems are prefixed with the setting and the path. */
export function loadTrustConfig(file: string, now: number = Date.now()): { config: TrustConfig } | { problems: string[] } {
  const where = `SEALPOST_TRUST_CONFIG=${file}`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return { problems: [`${where}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`] };
  }
  if (bytes.length > MAX_TRUST_CONFIG_BYTES) return { problems: [`${where}: larger than ${MAX_TRUST_CONFIG_BYTES} bytes`] };
  const result = parseTrustConfig(bytes.toString('utf8'), file.endsWith('.json') ? 'json' : 'yaml', now);
  return 'config' in result ? result : { problems: result.problems.map((p) => `${where}: ${p}`) };
}
