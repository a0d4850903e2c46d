/** Redraws at most this often: a terminal repaint per 5,000-event batch would flicker on fast disks. */
const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

export interface ProgressBar {
  update(done: number, total: number): void;
  /** Clears the bar, so the result is printed on a clean line. */
  finish(): void;
}

/** What the bar writes to: stdout, or a stand-in in tests. */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * A one-line progress bar for long-running commands, drawn only when `output` is a terminal:
 * piped or redirected output (and `--json`) stays exactly the plain result.
 */
export function progressBar(label: string, output: ProgressOutput = process.stdout, now: () => number = Date.now): ProgressBar {
  if (output.isTTY !== true) return { update() {}, finish() {} };
  let drawn = false;
  let last = -Infinity;
  return {
    update(done, total) {
      const time = now();
      if (time - last < REDRAW_INTERVAL_MS && done < total) return;
      last = time;
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(fraction * BAR_WIDTH);
      output.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} (${Math.floor(fraction * 100)}%)`);
      drawn = true;
    },
    finish() {
      // CR, then ECMA-48 "erase in line" (CSI 2 K).
      if (drawn) output.write('\r\u001b[2K');
      drawn = false;
    },
  };
}
