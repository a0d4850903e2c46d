/**
 * A module imported on the first call, and the same promise on every later one: a heavy
 * dependency (AWS SDK, mail parsing, SAML, WebAuthn, …) then costs memory only in a process that
 * uses it, not in every role that merely imports its adapter (issue 16, docs/scaling.md).
 * Import its types with `import type`; `load` is `() => import('the-package')`.
 */
export function lazyImport<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => (loading ??= load());
}
