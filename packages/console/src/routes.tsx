import { lazy, type ComponentType, type LazyExoticComponent } from 'react';
import type { Permission } from './api/types.ts';

export interface PageProps {
  /** The route pattern's parameters (`/payloads/:id` → `{id}`). */
  readonly params: Readonly<Record<string, string>>;
}

export interface RouteDef {
  /** Console-relative pattern, `:name` for a parameter. */
  readonly path: string;
  readonly title: string;
  readonly page: LazyExoticComponent<ComponentType<PageProps>>;
  /** Shown in the navigation under this label; absent: reached by links only. */
  readonly nav?: string;
  /** Hidden (navigation and page) when the session lacks it. The server enforces it regardless. */
  readonly permission?: Permission;
}

/**
 * Every page of the console: one line here and one file under src/pages/. Each page is its own
 * chunk, loaded when first visited.
 */
export const ROUTES: readonly RouteDef[] = [
  { path: '/', title: 'Payloads', nav: 'Payloads', permission: 'payloads:read', page: lazy(() => import('./pages/payloads.page.tsx')) },
  { path: '/payloads/:id', title: 'Payload', permission: 'payloads:read', page: lazy(() => import('./pages/payload.page.tsx')) },
  { path: '/deliveries', title: 'Deliveries', nav: 'Deliveries', permission: 'payloads:read', page: lazy(() => import('./pages/deliveries.page.tsx')) },
  { path: '/deliveries/:id', title: 'Delivery', permission: 'payloads:read', page: lazy(() => import('./pages/delivery.page.tsx')) },
  { path: '/destinations', title: 'Destinations', nav: 'Destinations', permission: 'destinations:manage', page: lazy(() => import('./pages/admin/destinations.page.tsx')) },
  { path: '/inboxes', title: 'Inboxes', nav: 'Inboxes', permission: 'destinations:manage', page: lazy(() => import('./pages/admin/inboxes.page.tsx')) },
  { path: '/api-keys', title: 'API keys', nav: 'API keys', permission: 'keys:manage', page: lazy(() => import('./pages/admin/api-keys.page.tsx')) },
  { path: '/members', title: 'Members', nav: 'Members', permission: 'members:read', page: lazy(() => import('./pages/admin/members.page.tsx')) },
  { path: '/policies', title: 'Security policy', nav: 'Policy', permission: 'policies:read', page: lazy(() => import('./pages/admin/policies.page.tsx')) },
  { path: '/sso', title: 'Single sign-on', nav: 'SSO', permission: 'policies:read', page: lazy(() => import('./pages/admin/sso/sso.page.tsx')) },
  { path: '/audit', title: 'Audit log', nav: 'Audit', permission: 'audit:read', page: lazy(() => import('./pages/admin/audit.page.tsx')) },
  { path: '/staff-access', title: 'Staff access', nav: 'Staff access', permission: 'audit:read', page: lazy(() => import('./pages/admin/staff-access.page.tsx')) },
  { path: '/signing-keys', title: 'Signing keys', nav: 'Signing keys', permission: 'signing_keys:read', page: lazy(() => import('./pages/admin/signing-keys.page.tsx')) },
  { path: '/account', title: 'Account security', nav: 'Account', page: lazy(() => import('./pages/account.page.tsx')) },
];

/** Shown for a console path no route matches. */
export const NOT_FOUND = lazy(() => import('./pages/not-found.page.tsx'));
