import { html, type SafeHtml } from '../http/html/html.js';
import { renderPage } from '../http/html/layout.js';
import { COMPONENT_NAMES, STATE_NAMES, isComponent, type ComponentState } from './component.js';
import { STATUS_SCRIPT, STATUS_STYLESHEET } from './status.assets.js';
import type { IncidentView, StatusSnapshot } from './status-page.service.js';

const NAV = [
  { href: '/status', text: 'Status' },
  { href: '/status/feed.atom', text: 'Atom feed' },
  { href: '/status.json', text: 'JSON' },
];

function tone(state: ComponentState | 'unknown'): 'ok' | 'warn' | 'bad' | 'none' {
  if (state === 'operational') return 'ok';
  if (state === 'degraded' || state === 'maintenance') return 'warn';
  if (state === 'unknown') return 'none';
  return 'bad';
}

const stateName = (state: ComponentState | 'unknown'): string => (state === 'unknown' ? 'Not probed yet' : STATE_NAMES[state]);

const OVERALL: Readonly<Record<ComponentState | 'unknown', string>> = {
  operational: 'All systems operational',
  degraded: 'Some systems are slower than usual',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
  maintenance: 'Scheduled maintenance in progress',
  unknown: 'Status not yet known',
};

const time = (iso: string): SafeHtml => html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;

function componentList(names: readonly string[]): string {
  return names.map((n) => (isComponent(n) ? COMPONENT_NAMES[n] : n)).join(', ');
}

function incident(view: IncidentView): SafeHtml {
  return html`<article class="panel" aria-labelledby="${`h-${view.id}`}">
<h3 id="${`h-${view.id}`}">${view.title}</h3>
<p class="note">Impact: ${view.impact} · Affects: ${componentList(view.components)} · Opened ${time(view.opened_at)}${view.resolved_at ? html` · Resolved ${time(view.resolved_at)}` : ''}</p>
${view.postmortem_url ? html`<p><a href="${view.postmortem_url}">Postmortem</a></p>` : ''}
<ol class="updates" reversed>${view.updates.map(
    (u) => html`<li><span class="update-state">${String(u.state)}</span> — ${time(String(u.posted_at))}<br>${String(u.message)}</li>`,
  )}</ol>
</article>`;
}

/** The live part of the page: swapped as a whole by the page's script on each live event. */
export function renderStatusLive(snapshot: StatusSnapshot): SafeHtml {
  return html`<div id="status-live">
<p class="overall ${tone(snapshot.overall)}" role="status">${OVERALL[snapshot.overall]}</p>
${
  snapshot.incidents.open.length === 0
    ? ''
    : html`<section aria-labelledby="h-current"><h2 id="h-current">Current incidents</h2>${snapshot.incidents.open.map((i) => incident(i))}</section>`
}
${
  snapshot.maintenance.length === 0
    ? ''
    : html`<section aria-labelledby="h-maintenance"><h2 id="h-maintenance">Scheduled maintenance</h2><ul class="plain">${snapshot.maintenance.map(
        (w) =>
          html`<li class="panel"><strong>${componentList(w.components)}</strong>${w.active ? html` <span class="badge badge-warn">In progress</span>` : ''}<br>${time(w.starts_at)} – ${time(w.ends_at)}<br>${w.note}</li>`,
      )}</ul></section>`
}
<section aria-labelledby="h-components"><h2 id="h-components">Components</h2>
<ul class="components">${snapshot.components.map(
    (c) => html`<li class="component">
<div class="component-head"><p class="component-name">${c.name}</p><span class="badge badge-${tone(c.state)}">${stateName(c.state)}</span></div>
${c.state === 'operational' ? '' : html`<p class="component-detail">${c.detail}</p>`}
<div class="bars" role="img" aria-label="${`${c.name}: ${c.uptime_percent === null ? 'no samples' : `${c.uptime_percent}% uptime`} over the last 90 days`}">${c.days.map(
      (d) => html`<span class="bar bar-${d.state}" title="${`${d.day}: ${d.state === 'no_data' ? 'no data' : d.state.replace('_', ' ')}${d.uptime_percent === null ? '' : `, ${d.uptime_percent}%`}`}"></span>`,
    )}</div>
<div class="bars-legend" aria-hidden="true"><span>90 days ago</span><span>${c.uptime_percent === null ? 'no samples' : `${c.uptime_percent}% uptime`}</span><span>Today</span></div>
</li>`,
  )}</ul></section>
${
  snapshot.incidents.resolved.length === 0
    ? html`<section aria-labelledby="h-past"><h2 id="h-past">Past incidents</h2><p>No incidents in the last 14 days.</p></section>`
    : html`<section aria-labelledby="h-past"><h2 id="h-past">Past incidents</h2>${snapshot.incidents.resolved.map((i) => incident(i))}</section>`
}
</div>`;
}

export function renderStatusPage(snapshot: StatusSnapshot): SafeHtml {
  return renderPage({
    title: 'System status · Sealpost',
    description: 'Live status of this Sealpost deployment: components, incidents and maintenance.',
    nav: NAV,
    current: '/status',
    scripts: [STATUS_SCRIPT.path],
    main: html`<link rel="stylesheet" href="${STATUS_STYLESHEET.path}">
<h1>System status</h1>
<p class="lede">Computed from live probes of this deployment; this page updates itself.</p>
${renderStatusLive(snapshot)}
<p class="note">Every incident update and postmortem is signed with this deployment's audit log key (<a href="${snapshot.log_key_url}">verifier key</a>) and recorded in its audit log; <a href="/status.json">status.json</a> and the <a href="/status/feed.atom">Atom feed</a> carry the signed documents.</p>`,
  });
}

export function renderPostmortemPage(incidentTitle: string, rootCause: string, publishedAt: string, body: SafeHtml, jsonUrl: string): SafeHtml {
  return renderPage({
    title: `Postmortem: ${incidentTitle} · Sealpost`,
    nav: NAV,
    main: html`<h1>Postmortem: ${incidentTitle}</h1>
<p class="note">Published ${time(publishedAt)} · <a href="${jsonUrl}">signed document</a></p>
<section aria-labelledby="h-root"><h2 id="h-root">Root cause</h2><p>${rootCause}</p></section>
<section aria-labelledby="h-detail" class="postmortem"><h2 id="h-detail">Details</h2>${body}</section>`,
  });
}
