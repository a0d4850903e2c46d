import { readFileSync } from 'node:fs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { lazyImport } from '../util/lazy-import.js';

/** Loaded only when a setting names an `aws-sm://` secret. */
const loadSecretsManager = lazyImport(() => import('@aws-sdk/client-secrets-manager'));

/** `aws-sm://<secret-id>[#json-field]`: a secret id is a name or an ARN; neither may hold '#'. */
export const AWS_SM_PREFIX = 'aws-sm://';
/** A start must not hang on an unreachable endpoint; the SDK's own retries run within this. */
const AWS_SM_TIMEOUT_MS = 15_000;

export interface AwsSecretReference {
  readonly secretId: string;
  readonly field: string | undefined;
}

export function parseAwsSecretReference(value: string): AwsSecretReference | undefined {
  if (!value.startsWith(AWS_SM_PREFIX)) return undefined;
  const rest = value.slice(AWS_SM_PREFIX.length);
  const hash = rest.indexOf('#');
  const secretId = hash < 0 ? rest : rest.slice(0, hash);
  const field = hash < 0 ? undefined : rest.slice(hash + 1);
  return { secretId, field };
}

export function describeAwsReference(ref: AwsSecretReference): string {
  return `AWS Secrets Manager secret "${ref.secretId}"${ref.field === undefined ? '' : ` field "${ref.field}"`}`;
}

/**
 * Reads a `*_FILE` setting's file (a Docker or Kubernetes secret). One trailing newline is
 * dropped, since editors and `echo` add one. Errors name the file, never its content.
 */
export function readSecretFile(file: string): { value: string } | { problem: string } {
  try {
    const text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    return text.length > 0 ? { value: text } : { problem: `the file ${file} is empty` };
  } catch (err) {
    return { problem: `cannot read the file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

/**
 * Fetches each referenced secret once (a secret may feed several settings) and picks its JSON
 * field where one is named. Answers `{ value }` or `{ problem }` per reference, in order; problems
 * name the secret id and the AWS error's name, never any secret content.
 */
export async function resolveAwsSecrets(
  refs: readonly AwsSecretReference[],
  client: () => Pick<SecretsManagerClient, 'send'> | Promise<Pick<SecretsManagerClient, 'send'>>,
): Promise<({ value: string } | { problem: string })[]> {
  const { GetSecretValueCommand } = await loadSecretsManager();
  const fetched = new Map<string, Promise<{ text: string } | { problem: string }>>();
  const fetchOnce = (secretId: string) => {
    let pending = fetched.get(secretId);
    if (pending === undefined) {
      pending = Promise.resolve(client())
        .then((sm) => sm.send(new GetSecretValueCommand({ SecretId: secretId }), { abortSignal: AbortSignal.timeout(AWS_SM_TIMEOUT_MS) }))
        .then((out) => {
          const text = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
          return text === undefined || text.length === 0 ? { problem: `secret "${secretId}" has no value` } : { text };
        })
        .catch((err: unknown) => ({ problem: `cannot read secret "${secretId}" (${(err as Error).name || 'error'})` }));
      fetched.set(secretId, pending);
    }
    return pending;
  };

  return Promise.all(
    refs.map(async (ref) => {
      if (!/^[\w/+=.@:-]{1,2048}$/.test(ref.secretId)) return { problem: `"${ref.secretId}" is not a secret name or ARN` };
      const got = await fetchOnce(ref.secretId);
      if ('problem' in got) return got;
      if (ref.field === undefined) return { value: got.text };
      let parsed: unknown;
      try {
        parsed = JSON.parse(got.text);
      } catch {
        return { problem: `secret "${ref.secretId}" is not JSON, so it has no field "${ref.field}"` };
      }
      const member = parsed !== null && typeof parsed === 'object' && Object.hasOwn(parsed, ref.field) ? (parsed as Record<string, unknown>)[ref.field] : undefined;
      if (typeof member !== 'string' && typeof member !== 'number') return { problem: `secret "${ref.secretId}" has no text field "${ref.field}"` };
      return { value: String(member) };
    }),
  );
}

/** The client `sealpost` uses: the AWS SDK's default credential chain, in the configured region. */
export function defaultSecretsManager(region: string | undefined): () => Promise<SecretsManagerClient> {
  let client: Promise<SecretsManagerClient> | undefined;
  return () => (client ??= loadSecretsManager().then(({ SecretsManagerClient }) => new SecretsManagerClient(region ? { region } : {})));
}
