import { Type, type TSchema } from '@sinclair/typebox';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** The body of every error answer (RFC 9457), as `problemDetails` in error-handler.ts builds it. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'https://sealpost.dev/errors/<code>' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String(),
    code: Type.Union(
      (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => Type.Literal(code)),
      { description: 'stable error code to match on (docs/errors.md)' },
    ),
    instance: Type.Optional(Type.String({ description: 'the request id; quote it to the operator' })),
  },
  { description: 'RFC 9457 problem details' },
);

/**
 * A route's error answer, for its `response` schema. Error bodies are serialised by the one
 * error handler (never by this schema), so the entry only describes the answer.
 */
export function problemResponse(description: string): TSchema {
  return Type.Unsafe({ description, content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema } } });
}

/** An answer with no body (204). */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'No content' });

/** A response whose body is not JSON (a file, a stream, plain text): its media types and what it holds. */
export function mediaResponse(description: string, mediaTypes: readonly string[], schema: TSchema = Type.String({ format: 'binary' })): TSchema {
  return Type.Unsafe({ description, content: Object.fromEntries(mediaTypes.map((type) => [type, { schema }])) });
}
