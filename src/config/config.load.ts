import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SealpostError } from '../errors/sealpost-error.js';
import { CONFIG_FIELDS, type ConfigKey, type FieldSpec, type FieldType, type SealpostConfig } from './config.schema.js';
import { loadTrustConfig, type TrustConfig } from '../trust/trust-config.js';
import { defaultSecretsManager, describeAwsReference, parseAwsSecretReference, readSecretFile, resolveAwsSecrets, type AwsSecretReference } from './config.secrets.js';

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

/** Where each secret setting's value came from (never the value): `sealpost config check` shows it. */
export interface SecretSource {
  readonly setting: string;
  readonly source: string;
}

interface Collected {
  readonly raws: Map<ConfigKey, Raw>;
  /** Secret settings whose value is an `aws-sm://` reference, still to be fetched. */
  readonly references: Map<ConfigKey, AwsSecretReference>;
  readonly problems: string[];
}

const FIELDS = Object.entries(CONFIG_FIELDS) as [ConfigKey, FieldSpec][];

function isSecret(spec: FieldSpec): boolean {
  return spec.secret === true;
}

/**
 * A secret setting's value from one layer (the config file or the environment): the value itself,
 * or its `_FILE` form read from disk. Both at once is a mistake worth stopping for.
 */
function secretLayer(
  direct: { value: unknown; source: string },
  viaFile: { value: unknown; source: string },
  problems: string[],
): Raw | undefined {
  if (direct.value !== undefined && viaFile.value !== undefined) {
    problems.push(`${direct.source} and ${viaFile.source}: set one of them, not both`);
    return undefined;
  }
  if (viaFile.value === undefined) return direct.value === undefined ? undefined : { value: String(direct.value), source: direct.source };
  const read = readSecretFile(String(viaFile.value));
  if ('problem' in read) {
    problems.push(`${viaFile.source}: ${read.problem}`);
    return undefined;
  }
  return { value: read.value, source: `file ${String(viaFile.value)} (${viaFile.source})` };
}

/** Every setting's raw value and its source, after defaults, the file and the environment. */
function collect(env: NodeJS.ProcessEnv): Collected {
  const problems: string[] = [];
  const configFile = env.SEALPOST_CONFIG;
  const fromFile = configFile ? readConfigFile(configFile, problems) : {};

  const knownFileKeys = new Set(FIELDS.flatMap(([, f]) => (isSecret(f) ? [fileKey(f.env), `${fileKey(f.env)}_file`] : [fileKey(f.env)])));
  const knownEnv = new Set(FIELDS.flatMap(([, f]) => (isSecret(f) ? [f.env, `${f.env}_FILE`] : [f.env])));
  for (const key of Object.keys(fromFile)) {
    if (!knownFileKeys.has(key)) problems.push(`${configFile}: unknown setting "${key}"`);
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('SEALPOST_') && name !== 'SEALPOST_CONFIG' && !knownEnv.has(name)) {
      // Tolerated, since other tools share the prefix (tests, scripts); but a typo should be visible.
      if (!name.startsWith('SEALPOST_TEST_')) problems.push(`${name}: unknown setting (check the spelling)`);
    }
  }

  const raws = new Map<ConfigKey, Raw>();
  const references = new Map<ConfigKey, AwsSecretReference>();
  const present = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);
  for (const [key, spec] of FIELDS) {
    let raw: Raw | undefined;
    if (spec.default !== undefined) raw = { value: spec.default, source: 'default' };
    const fk = fileKey(spec.env);
    if (isSecret(spec)) {
      raw =
        secretLayer({ value: fromFile[fk], source: `${configFile} "${fk}"` }, { value: fromFile[`${fk}_file`], source: `${configFile} "${fk}_file"` }, problems) ?? raw;
      raw = secretLayer({ value: present(env[spec.env]), source: spec.env }, { value: present(env[`${spec.env}_FILE`]), source: `${spec.env}_FILE` }, problems) ?? raw;
      const ref = raw === undefined ? undefined : parseAwsSecretReference(raw.value.trim());
      if (ref && raw) {
        references.set(key, ref);
        raw = { value: raw.value, source: `${describeAwsReference(ref)} (${raw.source})` };
      }
    } else {
      const fileValue = fromFile[fk];
      if (fileValue !== undefined) raw = { value: String(fileValue), source: `${configFile} "${fk}"` };
      const envValue = present(env[spec.env]);
      if (envValue !== undefined) raw = { value: envValue, source: spec.env };
    }
    if (raw !== undefined) raws.set(key, raw);
  }
  return { raws, references, problems };
}

/**
 * How a bad value appears in its problem: never a secret, nor a URL's password. A secret URL is
 * shown without its password only when it parses as a URL (its scheme is then what is wrong);
 * anything else in a secret setting may be the credential itself.
 */
function shownValue(spec: FieldSpec, value: string): string {
  if (!isSecret(spec)) return `=${JSON.stringify(spec.type.kind === 'url' ? redactUrl(value) : value)}`;
  return spec.type.kind === 'url' && URL.canParse(value) ? `=${JSON.stringify(redactUrl(value))}` : '';
}

/** Parses and checks the collected values; throws a ConfigError listing every problem. */
function validate({ raws, problems }: Collected): SealpostConfig {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of FIELDS) {
    const raw = raws.get(key);
    if (raw === undefined) continue;
    const parsed = parseValue(spec.type, raw.value.trim());
    if (parsed === undefined) {
      problems.push(`${spec.env}${shownValue(spec, raw.value)} (from ${raw.source}): must be ${describe(spec.type)}`);
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

  const staffOidc = [out.staffOidcIssuer, out.staffOidcClientId, out.staffOidcClientSecret].filter((v) => v !== undefined).length;
  if (staffOidc !== 0 && staffOidc !== 3) {
    problems.push('SEALPOST_STAFF_OIDC_ISSUER, SEALPOST_STAFF_OIDC_CLIENT_ID and SEALPOST_STAFF_OIDC_CLIENT_SECRET: set all three or none');
  }
  if (typeof out.staffOidcIssuer === 'string') {
    const issuer = new URL(out.staffOidcIssuer);
    if (issuer.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)) {
      problems.push(`SEALPOST_STAFF_OIDC_ISSUER=${JSON.stringify(redactUrl(out.staffOidcIssuer))}: must be https:// (plain http:// only on loopback)`);
    }
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

  let trust: TrustConfig | undefined;
  if (typeof out.trustConfig === 'string') {
    const loaded = loadTrustConfig(out.trustConfig);
    if ('problems' in loaded) problems.push(...loaded.problems);
    else trust = loaded.config;
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = path.resolve(out.dataDir as string);
  const secretSources: SecretSource[] = FIELDS.filter(([, spec]) => isSecret(spec)).map(([key, spec]) => ({
    setting: spec.env,
    source: raws.get(key)?.source ?? 'unset',
  }));
  return {
    ...(out as Omit<SealpostConfig, 'database' | 'dataDir' | 'secretSources'>),
    dataDir,
    database: resolveDatabase(out.databaseUrl as string | undefined, dataDir),
    secretSources,
    ...(trust === undefined ? {} : { trust }),
  } as SealpostConfig;
}

/**
 * Loads and validates the configuration from defaults, the optional file and the environment,
 * reading `*_FILE` secrets from disk. Throws a ConfigError listing every bad value with its name,
 * the value (never a secret's) and what is allowed. `aws-sm://` references need the network:
 * {@link loadConfigWithSecrets} resolves them; here they are a problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SealpostConfig {
  const collected = collect(env);
  for (const key of collected.references.keys()) {
    collected.problems.push(`${CONFIG_FIELDS[key].env}: aws-sm:// references are resolved only when the sealpost command starts`);
    collected.raws.delete(key);
  }
  return validate(collected);
}

/**
 * {@link loadConfig}, with each secret given as `aws-sm://<secret-id>[#json-field]` fetched from
 * AWS Secrets Manager first (each secret once; the region is `SEALPOST_AWS_REGION` or the SDK's).
 */
export async function loadConfigWithSecrets(
  env: NodeJS.ProcessEnv = process.env,
  options: { secretsManager?: () => Pick<SecretsManagerClient, 'send'> | Promise<Pick<SecretsManagerClient, 'send'>> } = {},
): Promise<SealpostConfig> {
  const collected = collect(env);
  const keys = [...collected.references.keys()];
  if (keys.length > 0) {
    const region = collected.raws.get('awsRegion')?.value.trim() || undefined;
    const resolved = await resolveAwsSecrets(
      keys.map((k) => collected.references.get(k)!),
      options.secretsManager ?? defaultSecretsManager(region),
    );
    keys.forEach((key, i) => {
      const result = resolved[i]!;
      const raw = collected.raws.get(key)!;
      if ('problem' in result) {
        collected.problems.push(`${CONFIG_FIELDS[key].env} (from ${raw.source}): ${result.problem}`);
        collected.raws.delete(key);
      } else {
        collected.raws.set(key, { value: result.value, source: raw.source });
      }
    });
  }
  return validate(collected);
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
