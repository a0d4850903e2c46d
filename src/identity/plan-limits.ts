import type { Plan } from './scopes.js';

/** What each plan allows, in one place. */
export interface PlanLimits {
  /** The longest payload retention (`retention_days`) a tenant on this plan may set. */
  readonly maxRetentionDays: number;
}

export const PLAN_LIMITS: Readonly<Record<Plan, PlanLimits>> = {
  starter: { maxRetentionDays: 90 },
  growth: { maxRetentionDays: 365 },
  operation: { maxRetentionDays: 730 },
};

/** Every new tenant's retention: the longest the smallest plan allows. */
export const DEFAULT_RETENTION_DAYS = 90;
/** At least a day: a shorter retention could delete payloads before their deliveries finish retrying. */
export const MIN_RETENTION_DAYS = 1;
