import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadTrustConfig, parseTrustConfig, type TrustConfig } from './trust-config.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../deploy/trust.example.yaml');

function example(): TrustConfig {
  const loaded = loadTrustConfig(EXAMPLE);
  if (!('config' in loaded)) throw new Error(loaded.problems.join('\n'));
  return loaded.config;
}

function problemsOf(change: (config: Record<string, unknown>) => void): string[] {
  const config = structuredClone(example()) as unknown as Record<string, unknown>;
  change(config);
  const result = parseTrustConfig(stringify(config), 'yaml');
  return 'problems' in result ? result.problems : [];
}

describe('the trust config', () => {
  it('loads the committed example, as YAML and as the same JSON', () => {
    const config = example();
    expect(config.compliance.map((row) => row.status)).toContain('not-started');
    expect(parseTrustConfig(JSON.stringify(config), 'json')).toEqual({ config });
  });

  it('names the field and the reason for each problem', () => {
    expect(problemsOf((c) => delete c.reviewBy)).toEqual([expect.stringMatching(/^\/reviewBy: /)]);
    expect(problemsOf((c) => ((c.compliance as { status: string }[])[0]!.status = 'done'))).toContainEqual(expect.stringMatching(/^\/compliance\/0\/status: /));
    expect(problemsOf((c) => ((c.bounty as Record<string, unknown>).surprise = 1))).toContainEqual(expect.stringMatching(/^\/bounty\/surprise: .*/));
    expect(problemsOf((c) => ((c.bounty as { rewards: { min: number }[] }).rewards[0]!.min = 99_999))).toEqual(['/bounty/rewards/0: min (99999) is above max (10000)']);
    expect(problemsOf((c) => (c.reviewBy = '2027-02-30'))).toEqual(['/reviewBy: 2027-02-30 is not a date']);
    expect(problemsOf((c) => ((c.compliance as { lastReview: string }[])[0]!.lastReview = '2999-01-01'))).toEqual(['/compliance/0/lastReview: 2999-01-01 is in the future']);
  });

  it('accepts only the URI schemes RFC 9116 allows: https for web links, no http or javascript contacts', () => {
    expect(problemsOf((c) => ((c.securityTxt as { policy: string }).policy = 'http://example.com/policy'))).toEqual(['/securityTxt/policy: must be an https:// URL']);
    expect(problemsOf((c) => ((c.securityTxt as { contact: string[] }).contact = ['javascript:alert(1)']))).toEqual(['/securityTxt/contact/0: must be a mailto:, https: or tel: URI']);
    expect(problemsOf((c) => ((c.contacts as { url: string }[])[2]!.url = 'http://status.example.com'))).toEqual(['/contacts/2/url: must be an https:// URL']);
  });

  it('refuses duplicate keys, alias bombs and unparsable text with the parser\'s reason', () => {
    const duplicate = parseTrustConfig('version: 1\nversion: 1\n', 'yaml');
    expect(duplicate).toEqual({ problems: [expect.stringMatching(/^not valid YAML: .*[Mm]ap keys must be unique/)] });
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    expect(parseTrustConfig(bomb, 'yaml')).toEqual({ problems: [expect.stringMatching(/^not valid YAML: /)] });
    expect(parseTrustConfig('{', 'json')).toEqual({ problems: [expect.stringMatching(/^not valid JSON: /)] });
  });

  it('prefixes file problems with the setting and the path, and refuses an oversized file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sp-trust-config-'));
    try {
      const file = path.join(dir, 'trust.yaml');
      writeFileSync(file, stringify({ ...(parse(stringify(example())) as object), version: 2 }));
      const wrongVersion = loadTrustConfig(file);
      expect('problems' in wrongVersion && wrongVersion.problems.length === 1 && wrongVersion.problems[0]!.startsWith(`SEALPOST_TRUST_CONFIG=${file}: /version: `)).toBe(true);
      writeFileSync(file, 'x'.repeat(300_000));
      expect(loadTrustConfig(file)).toEqual({ problems: [`SEALPOST_TRUST_CONFIG=${file}: larger than 262144 bytes`] });
      expect(loadTrustConfig(path.join(dir, 'missing.yaml'))).toEqual({ problems: [`SEALPOST_TRUST_CONFIG=${path.join(dir, 'missing.yaml')}: cannot read the file (ENOENT)`] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
