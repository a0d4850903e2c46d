import { defineAsset } from '../http/html/assets.js';

/** The status page's own styles (the uptime bars), a file like the site stylesheet: the CSP allows no inline style. */
export const STATUS_STYLESHEET = defineAsset(
  'status',
  'css',
  'text/css; charset=utf-8',
  `
.overall{font-size:1.125rem;font-weight:600;padding:.75rem 1rem;border-radius:.5rem;margin:1rem 0}
.overall.ok{color:var(--ok-fg);background:var(--ok-bg)}.overall.warn{color:var(--warn-fg);background:var(--warn-bg)}
.overall.bad{color:var(--bad-fg);background:var(--bad-bg)}.overall.none{color:var(--none-fg);background:var(--none-bg)}
.components{list-style:none;padding:0;margin:0}
.component{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;margin:0 0 .75rem}
.component-head{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;align-items:baseline}
.component-name{font-weight:600;margin:0}
.bars{display:flex;gap:1px;height:2rem;margin:.5rem 0 .25rem}
.bar{flex:1 1 0;min-width:1px;border-radius:1px}
.bar-operational{background:#1e8e3e}.bar-degraded{background:#f9ab00}.bar-partial_outage{background:#e8710a}
.bar-major_outage{background:#d93025}.bar-maintenance{background:#1a73e8}.bar-no_data{background:var(--line)}
.bars-legend{display:flex;justify-content:space-between;color:var(--muted);font-size:.8125rem}
.updates{list-style:none;padding:0;margin:.5rem 0 0}
.updates li{border-left:3px solid var(--line);padding:.25rem 0 .25rem .75rem;margin:0 0 .5rem}
.update-state{font-weight:600;text-transform:capitalize}
.postmortem{overflow-wrap:anywhere}
.panel>h3:first-child{margin-top:0}
.component-detail{margin:.25rem 0 0;color:var(--muted);font-size:.875rem}
`,
);

/**
 * Live updates without reload: on each Server-Sent Event the page fetches itself and swaps the
 * live region for the fresh one (markup rendered and escaped by the server, parsed with
 * DOMParser, never assembled from strings here).
 */
export const STATUS_SCRIPT = defineAsset(
  'status',
  'js',
  'text/javascript; charset=utf-8',
  `"use strict";
(function () {
  if (!("EventSource" in window)) return;
  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch("/status", { headers: { accept: "text/html" }, cache: "no-store", credentials: "omit" })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("status-live");
        var current = document.getElementById("status-live");
        if (fresh && current) current.replaceWith(document.importNode(fresh, true));
        document.documentElement.setAttribute("data-status-updated", String(Date.now()));
      })
      .catch(function () {})
      .finally(function () { refreshing = false; if (again) { again = false; refresh(); } });
  }
  var source = new EventSource("/status/events");
  source.addEventListener("status", refresh);
})();
`,
);
