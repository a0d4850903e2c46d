import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { SealpostError } from '../errors/sealpost-error.js';
import { CONFIG_FIELDS, type ConfigKey, type FieldType, type SealpostConfig } from './config.schema.js';

/** Raised with every problem at once, so an operator fixes them in one go. */
export class ConfigError extends SealpostError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('SP_ERR_CONFIG_INVALID', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

type Raw = { value: string; source: string };

function fileKey(env: string): string {
  return env.replace(/^SEALPOST_/, '').toLowerCase();
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`SEALPOST_CONFIG=${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`SEALPOST_CONFIG=${file}: must hold a JSON object`);
      return {};
    }
    return parsed as Record<string, unknown>;
  } catch (err) {
    problems.push(`SEALPOST_CONFIG=${file}: not valid JSON (${(err as Error).message})`);
    return {};
  }
}

function describe(type: FieldType): string {
  switch (type.kind) {
    case 'port':
      return 'an integer port from 0 to 65535';
    case 'int':
      return `an integer from ${type.min} to ${type.max}`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${type.values.join(', ')}`;
    case 'url':
      return `a URL starting with ${type.protocols.join(' or ')}//`;
    case 'path':
      return 'a file system path';
    case 'durations':
      return 'a comma-separated list of durations such as 0,5s,5m,2h,1d';
    case 'cidr-allow':
      return 'true, false, or a comma-separated list of CIDRs such as 10.0.0.0/8,fd00::/8';
    case 'string':
      return 'a non-empty string';
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseDurations(value: string): number[] | undefined {
  const out: number[] = [];
  for (const part of value.split(',').map((p) => p.trim())) {
    const match = /^(\d+)(ms|s|m|h|d)?$/.exec(part);
    if (!match) return undefined;
    const unit = match[2];
    if (unit === undefined && match[1] !== '0') return undefined; // a bare number is ambiguous
    out.push(Number(match[1]) * DURATION_UNITS[unit ?? 'ms']!);
  }
  return out.length > 0 ? out : undefined;
}

function parseCidrs(value: string): string[] | undefined {
  const cidrs = value.split(',').map((p) => p.trim());
  for (const cidr of cidrs) {
    const [address, bits, extra] = cidr.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || extra !== undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return undefined;
    if (Number(bits) > (family === 4 ? 32 : 128)) return undefined;
  }
  return cidrs;
}

function parseValue(type: FieldType, value: string): string | number | boolean | readonly (string | number)[] | undefined {
  switch (type.kind) {
    case 'durations':
      return parseDurations(value);
    case 'cidr-allow':
      return value === 'true' ? true : value === 'false' ? false : parseCidrs(value);
    case 'port':
    case 'int': {
      if (!/^\d+$/.test(value)) return undefined;
      const n = Number(value);
      const [min, max] = type.kind === 'port' ? [0, 65535] : [type.min, type.max];
      return n >= min && n <= max ? n : undefined;
    }
    case 'bool':
      return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : undefined;
    case 'enum':
      return type.values.includes(value) ? value : undefined;
    case 'url': {
      try {
        return type.protocols.includes(new URL(value).protocol) ? value : undefined;
      } catch {
        return undefined;
      }
    }
    case 'path':
    case 'string':
      return value.length > 0 ? value : undefined;
  }
}

function resolveDatabase(databaseUrl: string | undefined, dataDir: string): SealpostConfig['database'] {
  if (databaseUrl === undefined) return { dialect: 'sqlite', file: path.join(dataDir, 'sealpost.db') };
  const url = new URL(databaseUrl);
  if (url.protocol === 'sqlite:') {
    // sqlite:relative/file.db or sqlite:///absolute/file.db
    const file = decodeURIComponent(url.pathname);
    return { dialect: 'sqlite', file: path.resolve(file) };
  }
  return { dialect: 'postgres', url: databaseUrl };
}

/**
 * Loads and validates the configuration from defaults, the optional file and the environment.
 * Throws a ConfigError listing every bad value with its name, the value and what is allowed.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SealpostConfig {
  const problems: string[] = [];
  const configFile = env.SEALPOST_CONFIG;
  const fromFile = configFile ? readConfigFile(configFile, problems) : {};

  const knownFileKeys = new Set(Object.values(CONFIG_FIELDS).map((f) => fileKey(f.env)));
  for (const key of Object.keys(fromFile)) {
    if (!knownFileKeys.has(key)) problems.push(`${configFile}: unknown setting "${key}"`);
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('SEALPOST_') && name !== 'SEALPOST_CONFIG' && !Object.values(CONFIG_FIELDS).some((f) => f.env === name)) {
      // Tolerated, since other tools share the prefix (tests, scripts); but a typo should be visible.
      if (!name.startsWith('SEALPOST_TEST_')) problems.push(`${name}: unknown setting (check the spelling)`);
    }
  }

  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_FIELDS) as [ConfigKey, (typeof CONFIG_FIELDS)[ConfigKey]][]) {
    let raw: Raw | undefined;
    if (spec.default !== undefined) raw = { value: spec.default, source: 'default' };
    const fileValue = fromFile[fileKey(spec.env)];
    if (fileValue !== undefined) raw = { value: String(fileValue), source: `${configFile} "${fileKey(spec.env)}"` };
    const envValue = env[spec.env];
    if (envValue !== undefined && envValue !== '') raw = { value: envValue, source: spec.env };
    if (raw === undefined) continue;
    const parsed = parseValue(spec.type, raw.value.trim());
    if (parsed === undefined) {
      // Never echo a value that may hold a credential (the database URL's password).
      const shown = spec.type.kind === 'url' ? redactUrl(raw.value) : raw.value;
      problems.push(`${spec.env}=${JSON.stringify(shown)} (from ${raw.source}): must be ${describe(spec.type)}`);
      continue;
    }
    out[key] = parsed;
  }

  // Cross-field rules.
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) {
    problems.push('SEALPOST_TLS_CERT and SEALPOST_TLS_KEY: set both or neither');
  }
  if (out.keyProvider === 'aws-kms' && out.kmsKeyId === undefined) {
    problems.push('SEALPOST_KMS_KEY_ID: required when SEALPOST_KEY_PROVIDER=aws-kms');
  }
  if (out.blobStore === 's3' && out.s3Bucket === undefined) {
    problems.push('SEALPOST_S3_BUCKET: required when SEALPOST_BLOB_STORE=s3');
  }

  for (const name of ['backupTarget', 'backupReplica'] as const) {
    const value = out[name] as string | undefined;
    if (value !== undefined && !isBackupLocation(value)) {
      problems.push(`${CONFIG_FIELDS[name].env}=${JSON.stringify(value)}: must be an absolute directory or s3://bucket/prefix`);
    }
  }
  if ((out.backupTarget === undefined) !== (out.backupReplica === undefined)) {
    problems.push('SEALPOST_BACKUP_TARGET and SEALPOST_BACKUP_REPLICA: set both or neither (a backup lives in two places)');
  } else if (out.backupTarget !== undefined && out.backupTarget === out.backupReplica && out.backupTargetEndpoint === out.backupReplicaEndpoint) {
    problems.push('SEALPOST_BACKUP_REPLICA: must differ from SEALPOST_BACKUP_TARGET');
  }
  for (const [name, least] of [['backupInterval', 5 * 60_000], ['backupDrillInterval', 3_600_000]] as const) {
    const value = out[name] as readonly number[] | undefined;
    if (value !== undefined && (value.length !== 1 || (value[0] !== 0 && (value[0] ?? 0) < least))) {
      problems.push(`${CONFIG_FIELDS[name].env}: must be one duration of at least ${least / 60_000} minutes, or 0 to disable`);
    }
  }

  // C2SP signed-note key names: non-empty, no Unicode space, no '+' (src/audit/checkpoint.ts isValidKeyName).
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (out.auditOrigin !== undefined && !/^[^\s+\u0000-\u001f]+$/u.test(out.auditOrigin as string)) {
    problems.push(`SEALPOST_AUDIT_ORIGIN=${JSON.stringify(out.auditOrigin)}: must be one line without spaces or '+' (it also names the log key), e.g. sealpost.example.com/audit`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = path.resolve(out.dataDir as string);
  return {
    ...(out as Omit<SealpostConfig, 'database' | 'dataDir'>),
    dataDir,
    database: resolveDatabase(out.databaseUrl as string | undefined, dataDir),
  } as SealpostConfig;
}

/** `s3://bucket[/prefix]` or an absolute directory (see src/ops/backup/backup-target.ts). */
function isBackupLocation(value: string): boolean {
  if (value.startsWith('s3://')) {
    const [bucket = '', ...prefix] = value.slice('s3://'.length).split('/');
    return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && /^[a-z0-9_./-]*$/.test(prefix.join('/'));
  }
  return path.isAbsolute(value);
}

export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}
