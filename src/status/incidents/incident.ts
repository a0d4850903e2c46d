import type { Component } from '../component.js';

/** How bad it is for customers, mildest first. */
export const IMPACTS = ['none', 'minor', 'major', 'critical'] as const;
export type Impact = (typeof IMPACTS)[number];

export const INCIDENT_STATES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/**
 * Which state an update may move an incident to. Forward along investigating → identified →
 * monitoring → resolved (skipping is fine); monitoring may fall back to identified when a fix
 * did not hold; nothing follows resolved (a new incident does).
 */
const NEXT: Readonly<Record<IncidentState, readonly IncidentState[]>> = {
  investigating: ['investigating', 'identified', 'monitoring', 'resolved'],
  identified: ['identified', 'monitoring', 'resolved'],
  monitoring: ['identified', 'monitoring', 'resolved'],
  resolved: [],
};

export function canMove(from: IncidentState, to: IncidentState): boolean {
  return NEXT[from].includes(to);
}

export function isImpact(value: string): value is Impact {
  return (IMPACTS as readonly string[]).includes(value);
}

export function isIncidentState(value: string): value is IncidentState {
  return (INCIDENT_STATES as readonly string[]).includes(value);
}

export interface Incident {
  readonly id: string;
  readonly title: string;
  readonly impact: Impact;
  readonly components: readonly Component[];
  readonly customerVisible: boolean;
  readonly state: IncidentState;
  readonly openedBy: string;
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly resolvedAt: number | null;
  readonly postmortemWaiver: string | null;
}

/** An incident's facts as every view shows them (the public status page, the staff API, the CLI). */
export interface IncidentFacts {
  readonly id: string;
  readonly title: string;
  readonly impact: string;
  readonly components: readonly Component[];
  readonly customer_visible: boolean;
  readonly state: string;
  readonly opened_at: string;
  readonly resolved_at: string | null;
}

export function incidentFacts(incident: Incident): IncidentFacts {
  return {
    id: incident.id,
    title: incident.title,
    impact: incident.impact,
    components: [...incident.components],
    customer_visible: incident.customerVisible,
    state: incident.state,
    opened_at: new Date(incident.openedAt).toISOString(),
    resolved_at: incident.resolvedAt === null ? null : new Date(incident.resolvedAt).toISOString(),
  };
}

/** A stored, signed update: `document` is what the page, the JSON and the feed publish. */
export interface IncidentUpdate {
  readonly id: string;
  readonly incidentId: string;
  readonly state: IncidentState;
  readonly postedAt: number;
  readonly document: string;
}

export interface Postmortem {
  readonly incidentId: string;
  readonly publishedAt: number;
  readonly document: string;
}
