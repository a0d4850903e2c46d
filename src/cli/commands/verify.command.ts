import { readFile, stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { isVerifyError, verifyAuditExport, verifyReceipt, verifyWebhook, type JwkSet, type WebhookHeaders } from '@sealpost/verify';
import { loadJwks, mergeJwks } from '../../receipts/jwks-source.js';
import { isSealpostError } from '../../errors/sealpost-error.js';
import { print } from '../cli-support.js';
import { styleFor } from '../output-style.js';

/** Receipts and headers are a few KB; a forwarded body is at most the ingest limit plus envelope. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A year of one tenant's audit events with their proofs. */
const MAX_EXPORT_BYTES = 1024 * 1024 * 1024;

class InputError extends Error {}

/** docs/cli.md: 0 valid, 1 invalid (checked, and refused), 2 could not check (usage, unreadable input, keys unreachable). */
export const VERIFY_EXIT = { valid: 0, invalid: 1, couldNotCheck: 2 } as const;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of seconds');
  return n;
}

async function readInput(file: string, limit: number): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      size += buffer.length;
      if (size > limit) throw new InputError(`standard input is larger than ${limit} bytes`);
      chunks.push(buffer);
    }
    return Buffer.concat(chunks);
  }
  try {
    if ((await stat(file)).size > limit) throw new InputError(`${file} is larger than ${limit} bytes`);
    return await readFile(file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'}`);
  }
}

async function jwksFrom(sources: readonly string[]): Promise<JwkSet> {
  if (sources.length === 0) throw new InputError("--jwks is required: a file or URL of your tenant's jwks.json, /.well-known/sealpost/tenants/<tenant>/jwks.json (repeat it to add jwks-archive.json)");
  return mergeJwks(await Promise.all(sources.map(loadJwks)));
}

function parseHeaders(bytes: Buffer, file: string): WebhookHeaders {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InputError(`${file}: not valid JSON`);
  }
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((item) => typeof item === 'string')));
  if (!valid) throw new InputError(`${file}: expected a JSON object of header names to string values, e.g. {"webhook-id": "msg_…"}`);
  return parsed as Record<string, string | string[]>;
}

/**
 * Runs one verification: exit 0 and a summary when valid; 1 and the reason when the document
 * was checked and is not authentic; 2 when it could not be checked at all (its file or the keys
 * could not be read), so a script never takes an outage for a forgery, nor the reverse.
 */
async function run(json: boolean, verify: () => Promise<Record<string, unknown>>, human: (result: Record<string, unknown>) => string): Promise<void> {
  const out = styleFor(process.stdout, { json });
  const err = styleFor(process.stderr, { json });
  try {
    const result = await verify();
    print({ valid: true, ...result }, json, () => `${out.green('valid')}${human(result).replace(/^valid/, '')}`);
  } catch (error) {
    if (isVerifyError(error)) {
      if (json) print({ valid: false, code: error.code, message: error.message }, true, () => '');
      process.stderr.write(`sealpost verify: ${err.red('INVALID')} (${error.code}): ${error.message}\n`);
      process.exitCode = VERIFY_EXIT.invalid;
      return;
    }
    if (!(error instanceof InputError) && !isSealpostError(error)) throw error;
    const code = isSealpostError(error) ? error.code : 'input';
    if (json) print({ valid: null, code, message: error.message }, true, () => '');
    process.stderr.write(`sealpost verify: could not check: ${error.message}${isSealpostError(error) ? ` (${error.code})` : ''}\n`);
    process.exitCode = VERIFY_EXIT.couldNotCheck;
  }
}

/**
 * `sealpost verify [receipt] <file> --tenant … --jwks …` and `sealpost verify webhook --headers …
 * --body … --tenant … --jwks …`: the checks customers run, with @sealpost/verify, against keys fetched from a file
 * or URL.
 */
export function registerVerify(program: Command): void {
  const verify = program.command('verify').description('verify a Sealpost receipt or forwarded request with the public keys (exit 0 when valid)');

  verify
    .command('receipt <file>', { isDefault: true })
    .description('verify a signed receipt (a JSON file, or - for standard input); `sealpost verify <file>` does the same')
    .requiredOption('--tenant <id>', 'your tenant id (ten_…): a receipt of any other tenant is refused, even with a valid signature')
    .option('--jwks <file-or-url>', "your tenant's /.well-known/sealpost/tenants/<tenant>/jwks.json (https, a file, or plain http to loopback); repeat it to add jwks-archive.json for old receipts", collect, [])
    .option('--json', 'print JSON')
    .action(async (file: string, options: { tenant: string; jwks: string[]; json?: boolean }) => {
      await run(
        options.json === true,
        async () => {
          const text = (await readInput(file, MAX_DOCUMENT_BYTES)).toString('utf8');
          const jwks = await jwksFrom(options.jwks);
          const { receipt, kid } = verifyReceipt(text, jwks, { tenant: options.tenant });
          return { kind: receipt.kind, id: receipt.id, message_id: receipt.message_id, tenant: receipt.tenant, issued_at: receipt.issued_at, kid };
        },
        (r) => `valid ${String(r.kind)} receipt ${String(r.id)} for ${String(r.message_id)}, issued ${String(r.issued_at)}, signed by ${String(r.kid)}`,
      );
    });

  verify
    .command('webhook')
    .description('verify a forwarded request from its headers (a JSON object) and its body bytes exactly as received')
    .requiredOption('--headers <file>', 'JSON object of the request headers, e.g. {"webhook-id": "msg_…", "webhook-timestamp": "…", …}')
    .requiredOption('--body <file>', 'the request body exactly as received (- for standard input)')
    .requiredOption('--tenant <id>', 'your tenant id (ten_…): a request for any other tenant is refused, even with a valid signature')
    .option('--jwks <file-or-url>', "your tenant's /.well-known/sealpost/tenants/<tenant>/jwks.json (https, a file, or plain http to loopback); may be repeated", collect, [])
    .option('--tolerance <seconds>', 'largest accepted difference between webhook-timestamp and now', seconds, 300)
    .option('--json', 'print JSON')
    .action(async (options: { headers: string; body: string; tenant: string; jwks: string[]; tolerance: number; json?: boolean }) => {
      await run(
        options.json === true,
        async () => {
          const headers = parseHeaders(await readInput(options.headers, MAX_DOCUMENT_BYTES), options.headers);
          const body = await readInput(options.body, MAX_BODY_BYTES);
          const jwks = await jwksFrom(options.jwks);
          const verified = verifyWebhook({ headers, body, jwks, tenant: options.tenant, toleranceSeconds: options.tolerance });
          return { id: verified.id, timestamp: verified.timestamp, kid: verified.kid, type: verified.envelope.type, tenant: verified.envelope.tenant };
        },
        (r) => `valid webhook ${String(r.id)} (${String(r.type)}), sent ${new Date(Number(r.timestamp) * 1000).toISOString()}, signed by ${String(r.kid)}`,
      );
    });

  verify
    .command('audit-export <file>')
    .description('verify an audit log export offline: the signed checkpoint, and every event\'s inclusion proof against it')
    .requiredOption('--log-key <key-or-file>', 'the log\'s verifier key as served at /.well-known/sealpost-log-key (the text, or a file holding it)')
    .option('--json', 'print JSON')
    .action(async (file: string, options: { logKey: string; json?: boolean }) => {
      await run(
        options.json === true,
        async () => {
          const key = options.logKey.includes('+') ? options.logKey : (await readInput(options.logKey, MAX_DOCUMENT_BYTES)).toString('utf8').trim();
          const result = verifyAuditExport(await readInput(file, MAX_EXPORT_BYTES), key);
          return { format: result.format, tenant: result.tenant, events: result.events.length, tree_size: result.checkpoint.treeSize, origin: result.checkpoint.origin };
        },
        (r) => `valid ${String(r.format)} audit export: ${String(r.events)} events of ${String(r.tenant)}, each proven in the log of ${String(r.origin)} at tree size ${String(r.tree_size)}`,
      );
    });
}
