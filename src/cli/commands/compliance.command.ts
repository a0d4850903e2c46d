import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AuditActor } from '../../audit/audit-event.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { print, withSealpost } from '../cli-support.js';

/** The CLI acts for the deployment itself: the system actor, named in every event it writes. */
const CLI_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/**
 * A date (`2026-03-31`, a whole UTC day) or an RFC 3339 time. `end`: a date means the end of
 * that day, so `--from 2026-01-01 --to 2026-03-31` covers the whole quarter.
 */
export function parseEvidenceDate(text: string, option: string, end: boolean): number {
  const ms = DATE_ONLY.test(text) ? Date.parse(`${text}T00:00:00Z`) + (end ? DAY_MS : 0) : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw new SealpostError('SP_ERR_TRUST_EVIDENCE_INVALID', `${option} ${JSON.stringify(text)}: expected a date (YYYY-MM-DD) or an RFC 3339 time`);
  return ms;
}

export function registerCompliance(program: Command): void {
  const compliance = program.command('compliance').description('evidence for auditors');

  compliance
    .command('evidence')
    .description('write a signed archive of key rotations, backups and drills, staff access grants, audit checkpoints and the configuration (secrets redacted) for a period; verify it offline with @sealpost/verify')
    .requiredOption('--from <date>', 'start of the period (YYYY-MM-DD or RFC 3339), inclusive')
    .requiredOption('--to <date>', 'end of the period (a date counts whole), exclusive for a time')
    .requiredOption('--out <file>', 'archive to write (a tar); must not exist')
    .option('--json', 'print JSON')
    .action(async (options: { from: string; to: string; out: string; json?: boolean }) => {
      const range = { from: parseEvidenceDate(options.from, '--from', false), to: parseEvidenceDate(options.to, '--to', true) };
      // Checked first too, so a refused path does not leave an export event without its file.
      if (existsSync(options.out)) throw new SealpostError('SP_ERR_TRUST_EVIDENCE_INVALID', `${options.out} exists already; choose a new file`);
      const bundle = await withSealpost((sealpost) => sealpost.trust.evidence.build(range, CLI_ACTOR));
      try {
        // 'wx': never overwrite a file (an earlier bundle, or anything else); owner-only, it names staff and settings.
        writeFileSync(options.out, bundle.archive, { flag: 'wx', mode: 0o600 });
      } catch (cause) {
        throw new SealpostError('SP_ERR_TRUST_EVIDENCE_INVALID', `Cannot write ${options.out}: ${(cause as NodeJS.ErrnoException).code ?? 'error'} (it must not exist yet)`, { cause });
      }
      const m = bundle.manifest;
      print({ id: m.id, out: options.out, from: m.from, to: m.to, files: m.files }, options.json === true, () =>
        [`Evidence ${m.id} for ${m.from} .. ${m.to} written to ${options.out}:`, ...m.files.map((f) => `  ${f.path}  ${f.size} bytes  sha256 ${f.sha256}`), 'Signed with the audit log key (/.well-known/sealpost-log-key).'].join('\n'),
      );
    });
}
