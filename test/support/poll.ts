/**
 * The tests' one polling helper (STYLE.md: no test sleeps for what it can poll for): resolves
 * as soon as `check` holds, checking every `intervalMs`; fails after `timeoutMs` with what
 * `explain` says about the state it saw.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; explain?: () => string | Promise<string> } = {},
): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 10 } = options;
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not reached within ${timeoutMs} ms${options.explain ? `: ${await options.explain()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
