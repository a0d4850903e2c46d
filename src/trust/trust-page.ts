import { html, safeUrl, type SafeHtml } from '../http/html/html.js';
import { renderPage } from '../http/html/layout.js';
import type { TrustFacts } from './trust-facts.js';

const STATUS_LABELS: Readonly<Record<string, { text: string; badge: string }>> = {
  certified: { text: 'Certified', badge: 'ok' },
  compliant: { text: 'Compliant', badge: 'ok' },
  'in-progress': { text: 'In progress', badge: 'warn' },
  'not-started': { text: 'Not started', badge: 'none' },
  'not-applicable': { text: 'Not applicable', badge: 'none' },
};

const SEVERITY_LABELS: Readonly<Record<string, string>> = { critical: 'Critical', high: 'High', medium: 'Medium', low: 'Low' };

/** `2026-12-05 14:03 UTC`: unambiguous for readers anywhere. */
function when(value: string | null, none = 'never'): SafeHtml {
  if (value === null) return html`${none}`;
  return html`<time datetime="${value}">${value.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

function day(value: string | null | undefined, none = 'never'): SafeHtml {
  return value ? html`<time datetime="${value}">${value.slice(0, 10)}</time>` : html`${none}`;
}

function badge(kind: string, text: string): SafeHtml {
  return html`<span class="badge badge-${kind}">${text}</span>`;
}

function money(amount: number, currency: string): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency, maximumFractionDigits: 0 }).format(amount);
}

function fingerprintGroups(fp: string): string {
  return fp.replace(/(.{4})/g, '$1 ').trim();
}

function protection(f: TrustFacts): SafeHtml {
  const enc = f.encryption_at_rest;
  const sig = f.signing_keys;
  const kek =
    enc.key_provider === 'aws-kms'
      ? html`AWS KMS key, rotated by KMS every year ${badge('ok', 'Managed by KMS')}`
      : html`Local keyring, version ${enc.master_key_version ?? '—'}, last rotated ${day(enc.master_key_rotated_at)}; next rotation ${day(enc.master_key_next_rotation_at, 'not scheduled')} ${
          enc.rotation_status === 'overdue' ? badge('bad', 'Overdue') : badge('ok', 'On schedule')
        }`;
  return html`<section aria-labelledby="protection">
<h2 id="protection">How data is protected</h2>
<dl class="facts">
<dt>Encryption at rest</dt><dd>${enc.algorithm} envelope encryption; each record bound to its tenant, table and id.</dd>
<dt>Master key</dt><dd>${kek}</dd>
<dt>Signing keys</dt><dd>${sig.algorithm}, one set per tenant (${sig.active_keys} active), replaced every ${sig.rotation_period_days} days and kept ${sig.overlap_days} days more for verification. Last rotation ${day(sig.last_rotation_at)}; next ${day(sig.next_rotation_at, 'when the first key is made')} ${
    sig.rotation_overdue ? badge('bad', 'Overdue') : badge('ok', 'On schedule')
  }</dd>
<dt>TLS in force</dt><dd>${f.tls.min_version} or newer (TLS 1.3 preferred), forward-secret AEAD suites only; HSTS for ${Math.round(f.tls.hsts_max_age_seconds / 86_400)} days.
<details><summary>Cipher suites</summary><ul class="plain">${f.tls.ciphers.map((c) => html`<li><code>${c}</code></li>`)}</ul></details></dd>
<dt>Audit log</dt><dd>${f.audit_log.size.toLocaleString('en')} events, hash-chained in a Merkle tree. Latest signed checkpoint: ${
    f.audit_log.latest_checkpoint
      ? html`${f.audit_log.latest_checkpoint.tree_size.toLocaleString('en')} events, ${when(f.audit_log.latest_checkpoint.created_at)}`
      : html`none yet`
  }. <a href="${safeUrl(f.audit_log.verifier_key_url)}">Verifier key</a></dd>
</dl>
</section>`;
}

function recovery(f: TrustFacts): SafeHtml {
  const drill = f.backups.last_drill;
  return html`<section aria-labelledby="recovery">
<h2 id="recovery">Backups and recovery</h2>
<dl class="facts">
<dt>Backups</dt><dd>${f.backups.configured ? html`Encrypted snapshots in two places.` : html`${badge('bad', 'Not configured')} `} Last backup ${when(f.backups.last_backup_at)}</dd>
<dt>Last restore drill</dt><dd>${
    drill
      ? html`${when(drill.at)}: ${drill.passed ? badge('ok', 'Passed') : badge('bad', 'Failed')}, restored in ${drill.rto_seconds} s (measured recovery time)`
      : html`${badge('none', 'None yet')}`
  }</dd>
</dl>
</section>`;
}

function compliance(f: TrustFacts): SafeHtml {
  const rows = f.compliance;
  return html`<section aria-labelledby="compliance">
<h2 id="compliance">Compliance</h2>
${
  rows.length === 0
    ? html`<p>No compliance statements have been published for this deployment.</p>`
    : html`<div class="table-scroll"><table>
<caption>Where each framework stands, as stated by the operator${f.trust_config.review_by ? html` (to be reviewed by ${day(f.trust_config.review_by)})` : ''}.</caption>
<thead><tr><th scope="col">Framework</th><th scope="col">Status</th><th scope="col">Last review</th><th scope="col">Notes</th></tr></thead>
<tbody>${rows.map((row) => {
        const label = STATUS_LABELS[row.status] ?? { text: row.status, badge: 'none' };
        return html`<tr><th scope="row">${row.framework}</th><td>${badge(label.badge, label.text)}</td><td>${day(row.lastReview ?? null)}</td><td>${row.notes ?? ''}</td></tr>`;
      })}</tbody>
</table></div>`
}
${f.trust_config.review_overdue ? html`<p class="note">${badge('bad', 'Review overdue')} The operator's review date has passed; these statements may be out of date.</p>` : ''}
</section>`;
}

function reporting(f: TrustFacts): SafeHtml {
  const key = f.security_key;
  const bounty = f.bounty;
  return html`<section aria-labelledby="report">
<h2 id="report">Report a vulnerability</h2>
<p>Contacts, languages and policy are in our <a href="${safeUrl(key.security_txt_url)}">security.txt</a> (RFC 9116)${key.fingerprint ? ', signed with our security key' : ''}.</p>
<dl class="facts">
<dt>Security key</dt><dd>${
    key.fingerprint
      ? html`<code>${fingerprintGroups(key.fingerprint)}</code> (<a href="${safeUrl(key.public_key_url ?? '#')}">OpenPGP public key</a>)${
          key.matches_expected === false ? html` ${badge('bad', 'Does not match the published fingerprint')} <code>${fingerprintGroups(key.expected_fingerprint ?? '')}</code>` : ''
        }`
      : html`${badge('none', 'Not created yet')}`
  }</dd>
</dl>
${
  bounty
    ? html`<h3>Bug bounty</h3>
<div class="table-scroll"><table>
<caption>Rewards by severity</caption>
<thead><tr><th scope="col">Severity</th><th scope="col">Reward</th></tr></thead>
<tbody>${bounty.rewards.map((r) => html`<tr><th scope="row">${SEVERITY_LABELS[r.severity] ?? r.severity}</th><td>${money(r.min, r.currency)} – ${money(r.max, r.currency)}</td></tr>`)}</tbody>
</table></div>
${bounty.inScope && bounty.inScope.length > 0 ? html`<h3>In scope</h3><ul>${bounty.inScope.map((item) => html`<li>${item}</li>`)}</ul>` : ''}
<h3>Out of scope</h3>
${bounty.outOfScope.length > 0 ? html`<ul>${bounty.outOfScope.map((item) => html`<li>${item}</li>`)}</ul>` : html`<p>Nothing listed.</p>`}`
    : html`<p>This deployment publishes no bug bounty.</p>`
}
</section>`;
}

function incidents(): SafeHtml {
  return html`<section aria-labelledby="incidents">
<h2 id="incidents">Incident response</h2>
<ol>
<li>Contain the incident and preserve evidence.</li>
<li>Assess what was affected, and whose data.</li>
<li>Notify affected customers within 72 hours of confirming a breach.</li>
<li>Post status updates while it lasts, and publish a postmortem naming the root cause.</li>
</ol>
</section>`;
}

function responsibilities(f: TrustFacts): SafeHtml {
  if (f.customer_responsibilities.length === 0) return html``;
  return html`<section aria-labelledby="yours">
<h2 id="yours">Your responsibilities</h2>
<ul>${f.customer_responsibilities.map((item) => html`<li>${item}</li>`)}</ul>
</section>`;
}

function contacts(f: TrustFacts): SafeHtml {
  if (f.contacts.length === 0) return html``;
  return html`<section aria-labelledby="contacts">
<h2 id="contacts">Contacts</h2>
<dl class="facts">${f.contacts.map(
    (c) => html`<dt>${c.purpose}</dt><dd>${c.email ? html`<a href="${safeUrl(`mailto:${c.email}`)}">${c.email}</a>` : ''}${c.email && c.url ? ' · ' : ''}${c.url ? html`<a href="${safeUrl(c.url)}">${c.url}</a>` : ''}</dd>`,
  )}</dl>
</section>`;
}

/** The trust center page: every value escaped by `html`, no script, styles from the one stylesheet. */
export function renderTrustPage(f: TrustFacts, paths: { readonly json: string }): SafeHtml {
  const name = f.organization ?? 'this Sealpost deployment';
  return renderPage({
    title: `Security — ${name}`,
    description: `How ${name} protects data: keys, encryption, backups, compliance and how to report a vulnerability.`,
    nav: [
      { href: '/security', text: 'Security' },
      { href: paths.json, text: 'Facts as JSON' },
    ],
    current: '/security',
    main: html`<h1>Security at ${name}</h1>
<p class="lede">Live facts measured by the deployment itself ${when(f.generated_at)}, and the statements its operator keeps${f.trust_config.loaded ? '' : ' (none published yet)'}.</p>
${protection(f)}
${recovery(f)}
${compliance(f)}
${reporting(f)}
${incidents()}
${responsibilities(f)}
${contacts(f)}
<p class="note">Sealpost ${f.sealpost_version}. The same facts, machine-readable: <a href="${safeUrl(paths.json)}">${paths.json}</a>.</p>`,
  });
}
