import { describe, expect, it } from 'vitest';
import { transferProgress } from './transfer-progress.js';

function output(isTTY: boolean): { isTTY: boolean; text: string; write(s: string): void } {
  return { isTTY, text: '', write(s) { this.text += s; } };
}

describe('transfer progress', () => {
  it('draws a bar with bytes, objects and ETA on a terminal', () => {
    let now = 0;
    const out = output(true);
    const progress = transferProgress(out, () => now);
    progress.phase('restoring', 4 * 1024 * 1024, 4);
    now = 1_000;
    progress.advance(1024 * 1024, 1);
    expect(out.text).toContain('\r');
    expect(out.text).toContain('restoring [######..................] 1.0 MB/4.0 MB, 1/4 objects, ETA 3s');
    progress.finish();
    expect(out.text.endsWith('\n')).toBe(true);
  });

  it('prints plain lines, not redraws, when not on a terminal', () => {
    let now = 0;
    const out = output(false);
    const progress = transferProgress(out, () => now);
    progress.phase('verifying', 100, 2);
    progress.advance(50, 1); // within 5 s of the last line: not printed
    now = 6_000;
    progress.advance(50, 1);
    progress.finish();
    expect(out.text).not.toContain('\r');
    expect(out.text.split('\n').filter(Boolean)).toEqual([
      'verifying 0.0 MB/0.0 MB, 0/2 objects, ETA -',
      'verifying 0.0 MB/0.0 MB, 2/2 objects, done',
    ]);
  });
});
