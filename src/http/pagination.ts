import { Type, type TProperties, type TSchema } from '@sinclair/typebox';

/** Most items one page returns: bounds a request's cost whatever the caller asks. */
export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 50;

/** The query of a cursor-paginated list: `cursor` (the last item of the previous page), `limit`, and any filters. */
export function pageQuery<C extends TSchema, F extends TProperties = Record<never, never>>(cursor: C, filters?: F) {
  return Type.Object({
    ...(filters ?? ({} as F)),
    cursor: Type.Optional(cursor),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
  });
}

/** The limit a route asked its repository for. */
export function pageLimit(query: { readonly limit?: number | undefined }): number {
  return query.limit ?? DEFAULT_PAGE;
}

/**
 * One page as the API answers it: a full page names its last item as the next cursor; a short
 * one ends the list.
 */
export function pageOf<T, V, C>(items: readonly T[], limit: number, view: (item: T) => V, cursorOf: (item: T) => C): { data: V[]; next_cursor: C | null } {
  const last = items[items.length - 1];
  return { data: items.map(view), next_cursor: items.length === limit && last !== undefined ? cursorOf(last) : null };
}
