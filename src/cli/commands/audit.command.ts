import { InvalidArgumentError, type Command } from 'commander';
import { parseVerifierKey, type NoteKey } from '../../audit/checkpoint.js';
import { verifyStoredAuditLog } from '../../audit/audit-verify.js';
import { isSealpostError } from '../../errors/sealpost-error.js';
import { print, withDatabase } from '../cli-support.js';
import { styleFor } from '../output-style.js';
import { progressBar } from '../progress-bar.js';

/** docs/cli.md: 0 verified, 1 the log differs, 2 could not check (the database is unreachable…). */
const AUDIT_VERIFY_EXIT = { verified: 0, failed: 1, couldNotCheck: 2 } as const;

function logKeyOption(value: string): NoteKey {
  try {
    return parseVerifierKey(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message} (expected <name>+<key ID>+<base64 key>, as served at /.well-known/sealpost-log-key)`);
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  audit
    .command('verify')
    .description(
      'recompute the audit log from the stored events and check every column, purge record and signed checkpoint; exits 1 and names the first bad index',
    )
    .option('--log-key <key>', 'trust only this verifier key (from /.well-known/sealpost-log-key), not the keys stored in the database', logKeyOption)
    .option('--json', 'print JSON')
    .action(async (options: { logKey?: NoteKey; json?: boolean }) => {
      const style = styleFor(process.stdout, { json: options.json === true });
      // Read-only: no migration, no keyring.
      await withDatabase(async (database) => {
        // The bar goes to a terminal only, never into --json output.
        const bar = options.json === true ? undefined : progressBar('verifying audit log');
        const report = await verifyStoredAuditLog(database.db, { pinnedKey: options.logKey, onProgress: (done, total) => bar?.update(done, total) }).finally(() => bar?.finish());
        print(report, options.json === true, () =>
          report.ok
            ? `audit log ${style.green('verified')}: ${report.events} events, ${report.checkpointsVerified} signed checkpoints match`
            : [
                `audit log ${style.red('FAILED')}${report.firstBadIndex === null ? '' : ` at index ${report.firstBadIndex}`}`,
                ...report.problems.map((p) => `  ${p.reason}`),
                `(${report.events} events verified before the first difference)`,
              ].join('\n'),
        );
        if (!report.ok) process.exitCode = AUDIT_VERIFY_EXIT.failed;
      }, { migrate: false }).catch((err: unknown) => {
        // An unreachable database is not a tampered log: a distinct code, so alerts can tell them apart.
        const detail = isSealpostError(err) ? `${err.message} (${err.code})` : (err as Error).message;
        process.stderr.write(`sealpost audit verify: could not check: ${detail}\n`);
        process.exitCode = AUDIT_VERIFY_EXIT.couldNotCheck;
      });
    });
}
