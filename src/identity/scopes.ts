/** What an API key may do. A key holds a subset; routes name the one they need. */
export const SCOPES = ['payloads:write', 'payloads:read', 'destinations:manage', 'keys:manage', 'audit:read'] as const;
export type Scope = (typeof SCOPES)[number];

export const PLANS = ['starter', 'growth', 'operation'] as const;
export type Plan = (typeof PLANS)[number];
