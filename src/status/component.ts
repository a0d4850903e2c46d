/** What the status page reports on (issue 14): each is computed from its own probe. */
export const COMPONENTS = ['https_ingest', 'smtp_ingress', 'delivery', 'console'] as const;
export type Component = (typeof COMPONENTS)[number];

export const COMPONENT_NAMES: Readonly<Record<Component, string>> = {
  https_ingest: 'HTTPS ingest',
  smtp_ingress: 'SMTP ingress',
  delivery: 'Delivery',
  console: 'Console',
};

/** Mildest first: a component's state over several signals is the worst of them. */
export const COMPONENT_STATES = ['operational', 'degraded', 'partial_outage', 'major_outage'] as const;
export type ProbeState = (typeof COMPONENT_STATES)[number];
/** What the page shows: a probe's state, or `maintenance` while a window covers the component. */
export type ComponentState = ProbeState | 'maintenance';

export const STATE_NAMES: Readonly<Record<ComponentState, string>> = {
  operational: 'Operational',
  degraded: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
  maintenance: 'Under maintenance',
};

export function isComponent(value: string): value is Component {
  return (COMPONENTS as readonly string[]).includes(value);
}

export function worst(a: ProbeState, b: ProbeState): ProbeState {
  return COMPONENT_STATES.indexOf(a) >= COMPONENT_STATES.indexOf(b) ? a : b;
}

/** One probe's finding: the state and a short, public reason (never an address or a secret). */
export interface ProbeResult {
  readonly state: ProbeState;
  readonly detail: string;
}
