import type { Permission } from './permissions.js';

/** What an API key may do. A key holds a subset; each scope grants the permissions below. */
export const SCOPES = ['payloads:write', 'payloads:read', 'destinations:manage', 'keys:manage', 'audit:read'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Scopes onto the permission table (permissions.ts). Each scope is the permission of the same
 * name; every key may also read its tenant's public signing keys. No scope grants member or
 * policy management: those are decisions of people, made in sessions with a second factor.
 */
export function permissionsOfScopes(scopes: readonly Scope[]): ReadonlySet<Permission> {
  return new Set<Permission>([...scopes, 'signing_keys:read']);
}

/** The scopes whose permissions are all in `permissions`: what a session may put on a key it creates. */
export function scopesWithin(permissions: ReadonlySet<Permission>): Scope[] {
  return SCOPES.filter((scope) => permissions.has(scope));
}

export const PLANS = ['starter', 'growth', 'operation'] as const;
export type Plan = (typeof PLANS)[number];
