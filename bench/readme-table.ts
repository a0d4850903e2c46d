// Writes the README's performance table from one run of bench/run.ts, so the table is never
// edited by hand: BENCH_JSON=bench/results/latest.json npm run bench, then
//   npx tsx bench/readme-table.ts [bench/results/latest.json]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TARGETS, type BenchResults } from './support/targets.js';

const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

const n = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const verdict = (ok: boolean): string => (ok ? '**met**' : '**not met**');

/** The Markdown table (with its one-line provenance) for `r`. */
export function benchTable(r: BenchResults): string {
  const rows: string[][] = [];
  if (r.ingest.ratioToLean !== null && r.ingest.leanPerSecond !== null) {
    rows.push([
      '1. ingest, 2 KB JSON over HTTPS (api role, one destination)',
      `${n(r.ingest.sealpostPerSecond)} req/s, ${n(r.ingest.sealpostCpuUs)} µs CPU each`,
      `lean same-work server: ${n(r.ingest.leanPerSecond)} req/s, ${n(r.ingest.leanCpuUs ?? 0)} µs CPU each`,
      r.ingest.ratioToLean.toFixed(2),
      `≥ ${TARGETS.ingestToLean}: ${verdict(r.ingest.ratioToLean >= TARGETS.ingestToLean)}`,
    ]);
  }
  if (r.ingest.leanCpuUs !== null) {
    rows.push(['1. (steadier) server CPU per ingest', `${n(r.ingest.sealpostCpuUs)} µs`, `lean: ${n(r.ingest.leanCpuUs)} µs`, (r.ingest.leanCpuUs / r.ingest.sealpostCpuUs).toFixed(2), 'none (throughput is the target)']);
  }
  rows.push([
    '1. (context) ingest against a bare echo',
    `${n(r.ingest.sealpostPerSecond)} req/s`,
    `bare Fastify HTTPS echo: ${n(r.ingest.barePerSecond)} req/s, ${n(r.ingest.bareCpuUs)} µs CPU each`,
    r.ingest.ratioToBare.toFixed(2),
    'none',
  ]);
  rows.push([
    '2. end to end: ingest → signed → delivered (receipt written)',
    `${n(r.endToEnd.sealpostPerSecond)} payloads/s`,
    `store-nothing Fastify + undici relay: ${n(r.endToEnd.relayPerSecond)} payloads/s`,
    r.endToEnd.ratio.toFixed(2),
    `≥ ${TARGETS.endToEndToRelay}: ${verdict(r.endToEnd.ratio >= TARGETS.endToEndToRelay)}`,
  ]);
  if (r.ingest.leanPerSecond !== null) {
    // The relay answers before anything is durable; no server that commits first can pass the
    // lean same-work ingest rate, so this is the ceiling of ratio 2 on this machine.
    rows.push([
      '2. (context) ceiling: durable ingest alone, no delivery',
      `lean same-work ingest: ${n(r.ingest.leanPerSecond)} req/s`,
      `relay: ${n(r.endToEnd.relayPerSecond)} payloads/s`,
      (r.ingest.leanPerSecond / r.endToEnd.relayPerSecond).toFixed(2),
      'none: no server that commits before answering can exceed it',
    ]);
  }
  if (r.smtp) {
    const m = r.smtp;
    rows.push([
      `3. SMTP, ~${m.messageKb} KB mail with one attachment over ${m.connections} STARTTLS connections: accepted (250, committed), then signed and forwarded`,
      `${n(m.sealpostPerSecond)} msg/s, ${n(m.sealpostCpuMs, 1)} ms CPU each`,
      `Haraka ${m.harakaVersion} discarding the same mail: ${n(m.harakaPerSecond)} msg/s, ${n(m.harakaCpuMs, 1)} ms CPU each`,
      m.ratioToHaraka.toFixed(2),
      `≥ ${TARGETS.smtpToHaraka.toFixed(1)}: ${verdict(m.ratioToHaraka >= TARGETS.smtpToHaraka)}`,
    ]);
    // Parse, authenticate, encrypt and fsync two blobs, commit, sign and forward: what the
    // lean server does at its fastest bounds ratio 3 for any server that does that work.
    rows.push([
      '3. (context) ceiling: the same work written lean',
      `lean same-work server: ${n(m.leanPerSecond)} msg/s, ${n(m.leanCpuMs, 1)} ms CPU each`,
      'Haraka, as above',
      m.ceiling.toFixed(2),
      'none: no server doing this work passes it here',
    ]);
    rows.push(['3. (context) SMTP against the same work written lean', `${n(m.sealpostPerSecond)} msg/s`, `lean same-work server: ${n(m.leanPerSecond)} msg/s`, m.ratioToLean.toFixed(2), 'none (target 1 sets 0.8 for ingest)']);
  }
  rows.push([
    `4. ingest → delivered latency at half the end-to-end rate (${n(r.paced.rate)}/s, evenly paced${r.paced.seconds === undefined ? '' : ` for ${r.paced.seconds} s`})`,
    `p50 ${r.paced.p50} ms, p99 ${r.paced.p99} ms`,
    '',
    '',
    `p99 < ${TARGETS.p99Ms} ms: ${verdict(r.paced.p99 < TARGETS.p99Ms)}`,
  ]);
  rows.push([
    '5. peak RSS of the api role under sustained ingest',
    `${r.peakRssMb} MB`,
    '',
    '',
    `< ${TARGETS.peakRssMb} MB: ${verdict(r.peakRssMb < TARGETS.peakRssMb)}`,
  ]);
  if (r.smtp) {
    const big = r.smtp.bigAttachment;
    rows.push([
      '5. RSS growth of the SMTP role while one 25 MB attachment streams in',
      `+${big.rssGrowthMb} MB, stored in ${n(big.ms / 1000, 1)} s, ${big.intact ? 'SHA-256 matches' : 'SHA-256 MISMATCH'}`,
      '',
      '',
      `< ${TARGETS.bigAttachmentRssGrowthMb} MB: ${verdict(big.intact && big.rssGrowthMb < TARGETS.bigAttachmentRssGrowthMb)}`,
    ]);
  }
  const storedRatio = r.signing.storedBodyRatio ?? r.signing.storedBodySignPerSecond / r.signing.bareSignPerSecond;
  rows.push([
    '6. sign a forwarded 2 KB payload: its canonical bytes are made once, at ingest, and reused by every signature',
    `${n(r.signing.storedBodySignPerSecond)}/s`,
    `bare Ed25519 sign of the same bytes: ${n(r.signing.bareSignPerSecond)}/s`,
    storedRatio.toFixed(2),
    `≥ ${TARGETS.signToBare}: ${verdict(storedRatio >= TARGETS.signToBare)}`,
  ]);
  rows.push([
    '6. (context) canonicalise from the object, then sign',
    `${n(r.signing.canonicalizeSignPerSecond)}/s`,
    'same',
    r.signing.ratio.toFixed(2),
    `≥ ${TARGETS.signToBare} without reuse: ${verdict(r.signing.ratio >= TARGETS.signToBare)}`,
  ]);
  const provenance =
    `One run of \`npm run bench\` on ${r.date.slice(0, 10)}: ${r.machine}, Node ${r.node}, ${r.database === 'sqlite' ? 'SQLite (WAL, synchronous=FULL)' : 'PostgreSQL'}, ` +
    `autocannon with ${r.connections} connections, ${r.rounds} interleaved rounds of ${r.seconds} s; each ratio is the median of the per-round ratios. ` +
    'Rate limits were raised for the run (the default 6,000/min per key caps a run at 100 req/s). ' +
    (r.smtp
      ? `Target 3 and the attachment row come from \`bench/smtp.bench.ts\` in the same \`npm run bench\`: ${r.smtp.rounds} rounds of ${r.smtp.messages} messages alternating Sealpost, the lean server and Haraka (installed by the bench); medians of the rounds.`
      : 'Target 3 (SMTP against Haraka) is printed by `bench/smtp.bench.ts`.');
  return [
    provenance,
    '',
    '| Target | Sealpost | Baseline (same run) | Ratio | Goal |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}

/** `readme` with the text between the markers replaced by the table of `r`. */
export function withBenchTable(readme: string, r: BenchResults): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section`);
  return `${readme.slice(0, start + START.length)}\n${benchTable(r)}\n${readme.slice(end)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = path.resolve(import.meta.dirname, '..');
  const results = JSON.parse(readFileSync(process.argv[2] ?? path.join(root, 'bench/results/latest.json'), 'utf8')) as BenchResults;
  const readmePath = path.join(root, 'README.md');
  writeFileSync(readmePath, withBenchTable(readFileSync(readmePath, 'utf8'), results));
  process.stdout.write('README.md performance table written\n');
}
