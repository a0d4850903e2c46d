import { ApiError } from '../api/problem.ts';

/** An error as the operator needs it: what went wrong, the stable code, and the request id to quote. */
export function ErrorBanner({ error, title = 'The request failed' }: { readonly error: unknown; readonly title?: string }) {
  if (error === undefined || error === null) return null;
  const problem = error instanceof ApiError ? error.problem : undefined;
  const message = problem ? (problem.detail ?? problem.title ?? `HTTP ${error instanceof ApiError ? error.status : ''}`) : error instanceof Error ? error.message : String(error);
  return (
    <div className="banner banner-error" role="alert">
      <strong>{problem?.title ?? title}</strong>
      <p>{message}</p>
      {problem?.code || problem?.instance ? (
        <p className="muted small">
          {problem.code ? <code>{problem.code}</code> : null}
          {problem.instance ? <> · request <code>{problem.instance}</code></> : null}
        </p>
      ) : null}
    </div>
  );
}
