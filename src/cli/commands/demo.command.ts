import { type Command } from 'commander';
import type { DemoOutput } from '../demo/demo.run.js';
import { styleFor } from '../output-style.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'show the whole path on this machine, offline, in seconds: a temporary Sealpost and receiver, one JSON payload over HTTPS and one e-mail over SMTP+STARTTLS, forwarded, signed, verified and logged; leaves nothing running',
    )
    .option('--keep <dir>', 'keep the demo\'s data (tenant, key, log) in this new or empty directory instead of a temporary one that is removed')
    .option('--json', 'print only a JSON summary')
    .action(async (options: { keep?: string; json?: boolean }) => {
      // The demo's graph (SMTP ingress, nodemailer) is imported here, not by every command's start.
      const { DemoFailure, runDemo } = await import('../demo/demo.run.js');
      const style = styleFor(process.stdout, { json: options.json === true });
      const write = (text: string): void => void process.stdout.write(`${text}\n`);
      const out: DemoOutput =
        options.json === true
          ? { line() {}, heading() {}, ok() {} }
          : {
              line: (text = '') => write(text),
              heading: (text) => write(`\n${style.bold(`== ${text}`)}`),
              ok: (text) => write(`${style.green('✔')} ${text}`),
            };
      let result;
      try {
        result = await runDemo(out, options.keep === undefined ? {} : { keep: options.keep });
      } catch (err) {
        if (!(err instanceof DemoFailure)) throw err;
        process.stderr.write(`sealpost demo: ${style.red('failed')}: ${err.message}\n`);
        process.exitCode = 1;
        return;
      }
      if (options.json === true) write(JSON.stringify(result, null, 2));
      else write(`\n${style.green('Demo complete.')}`);
    });
}
