import { describe, expect, it } from 'vitest';
import { progressBar } from './progress-bar.js';

function recorder(isTTY: boolean): { isTTY: boolean; text: string; write(t: string): void } {
  return {
    isTTY,
    text: '',
    write(t: string) {
      this.text += t;
    },
  };
}

describe('progress bar', () => {
  it('writes nothing when the output is not a terminal', () => {
    const out = recorder(false);
    const bar = progressBar('verifying', out);
    bar.update(5, 10);
    bar.update(10, 10);
    bar.finish();
    expect(out.text).toBe('');
  });

  it('draws on a terminal, at most every 100 ms but always the last step, and clears its line', () => {
    const out = recorder(true);
    let time = 0;
    const bar = progressBar('verifying', out, () => time);
    bar.update(0, 10);
    time = 50;
    bar.update(5, 10); // too soon: skipped
    time = 60;
    bar.update(10, 10);
    bar.finish();
    expect(out.text).toBe(
      `\rverifying [${'.'.repeat(30)}] 0/10 (0%)` + `\rverifying [${'#'.repeat(30)}] 10/10 (100%)` + '\r\u001b[2K',
    );
  });
});
