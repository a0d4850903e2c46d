import type { TransferProgress } from '../ops/backup/snapshot-reader.js';
import type { ProgressOutput } from './progress-bar.js';

/** Redraws at most this often on a terminal; plain lines at most this often otherwise. */
const REDRAW_MS = 100;
const LINE_MS = 5_000;
const BAR_WIDTH = 24;

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Bytes, objects and ETA of a backup transfer: a redrawn bar on a terminal, otherwise a plain
 * line per phase and every few seconds (logs and CI stay readable). Written to stderr, so
 * `--json` output on stdout stays clean.
 */
export function transferProgress(output: ProgressOutput = process.stderr, now: () => number = Date.now): TransferProgress & { finish(): void } {
  const tty = output.isTTY === true;
  let label = '';
  let totalBytes = 0;
  let totalObjects = 0;
  let bytes = 0;
  let objects = 0;
  let started = now();
  let last = -Infinity;
  let drawn = false;
  /** The last plain line, so the closing line is not printed twice. */
  let printed = '';
  const line = (): string => {
    const fraction = totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 1;
    const elapsed = (now() - started) / 1000;
    const eta = fraction > 0 && fraction < 1 ? `ETA ${Math.ceil((elapsed / fraction) * (1 - fraction))}s` : fraction >= 1 ? 'done' : 'ETA -';
    const bar = tty ? ` [${'#'.repeat(Math.round(fraction * BAR_WIDTH))}${'.'.repeat(BAR_WIDTH - Math.round(fraction * BAR_WIDTH))}]` : '';
    return `${label}${bar} ${mb(bytes)}/${mb(totalBytes)}, ${objects}/${totalObjects} objects, ${eta}`;
  };
  const draw = (force: boolean): void => {
    const time = now();
    if (!force && time - last < (tty ? REDRAW_MS : LINE_MS)) return;
    last = time;
    const text = line();
    if (tty) {
      output.write(`\r\u001b[2K${text}`);
      drawn = true;
    } else if (text !== printed) {
      output.write(`${text}\n`);
      printed = text;
    }
  };
  return {
    phase(name, phaseBytes, phaseObjects) {
      if (drawn) output.write('\n');
      drawn = false;
      label = name;
      totalBytes = phaseBytes;
      totalObjects = phaseObjects;
      bytes = 0;
      objects = 0;
      started = now();
      last = -Infinity;
      draw(true);
    },
    advance(b, o) {
      bytes += b;
      objects += o;
      draw(false);
    },
    finish() {
      if (label !== '') draw(true);
      if (drawn) output.write('\n');
      drawn = false;
    },
  };
}
