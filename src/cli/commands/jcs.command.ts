import type { Command } from 'commander';
import { canonicalizeJsonText, JcsInputError } from '../../receipts/jcs-input.js';

/** Standard input beyond this is refused: far larger than any envelope or receipt. */
const MAX_JCS_INPUT_BYTES = 64 * 1024 * 1024;

async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.length;
    if (size > limit) throw new JcsInputError(`input is larger than ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** `sealpost jcs`: JSON on standard input, its RFC 8785 canonical form on standard output. */
export function registerJcs(program: Command): void {
  program
    .command('jcs')
    .description('read JSON on standard input and write its RFC 8785 canonical form (what Sealpost signs) to standard output, without a trailing newline')
    .action(async () => {
      try {
        const canonical = canonicalizeJsonText(await readStdin(MAX_JCS_INPUT_BYTES));
        await new Promise<void>((resolve, reject) => process.stdout.write(canonical, (err) => (err ? reject(err) : resolve())));
      } catch (err) {
        if (!(err instanceof JcsInputError)) throw err;
        process.stderr.write(`sealpost jcs: ${err.message}\n`);
        // sysexits(3) EX_DATAERR: the input, not the tool, is at fault.
        process.exitCode = 65;
      }
    });
}
