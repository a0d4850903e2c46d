/** An RFC 9457 problem+json answer of the Sealpost API (src/http/error-handler.ts). */
export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly code?: string;
  /** The request id: quote it when asking an operator of the server. */
  readonly instance?: string;
  readonly [member: string]: unknown;
}

/** A refused or failed API call: what the server said, kept whole so a page can show it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }

  get code(): string | undefined {
    return this.problem.code;
  }
}

/** The problem in a response, or one made up from its status when the body is not problem+json (a proxy's page). */
export async function problemOf(res: Response): Promise<Problem> {
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body: unknown = await res.json();
      if (body !== null && typeof body === 'object') return body as Problem;
    } catch {
      // Fall through: an unreadable body is described by its status alone.
    }
  }
  return { status: res.status, title: res.statusText || `HTTP ${res.status}` };
}
