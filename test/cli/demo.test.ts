import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

/** A cold start of Node and tsx, then a whole Sealpost: seconds, more on a busy machine. */
const DEMO_TEST_TIMEOUT_MS = 120_000;

describe('sealpost demo', { timeout: DEMO_TEST_TIMEOUT_MS }, () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sealpost-demo-test-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('runs the whole path, verifies everything, exits by itself and removes its temporary directory', async () => {
    // The demo's temporary directory goes under this TMPDIR, where nothing of it may remain.
    const tmpdir = path.join(tmp, 'tmpdir');
    mkdirSync(tmpdir);
    // A hostile environment: the demo must use none of the caller's settings.
    const result = await runCli(['demo', '--json'], {
      TMPDIR: tmpdir,
      SEALPOST_DATABASE_URL: 'postgres://nobody@192.0.2.1/none',
      SEALPOST_DATA_DIR: path.join(tmp, 'must-not-be-created'),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { forwarded: number; verified: Record<string, number>; checkpoint: { treeSize: number }; dataDir: string; kept: boolean };
    expect(summary.forwarded).toBe(2);
    // Two webhooks; an accepted and a delivered receipt for each payload, each proven logged.
    expect(summary.verified).toEqual({ webhooks: 2, receipts: 4, inclusionProofs: 4 });
    expect(summary.checkpoint.treeSize).toBeGreaterThan(0);
    expect(summary.kept).toBe(false);
    expect(summary.dataDir.startsWith(tmpdir)).toBe(true);
    // (tsx, which runs the CLI from source here, keeps its cache there too.)
    expect(readdirSync(tmpdir).filter((name) => !name.startsWith('tsx-'))).toEqual([]);
    expect(existsSync(path.join(tmp, 'must-not-be-created'))).toBe(false);
  });

  it('with --keep, keeps its data and prints curl lines with the real key and CA file, without colours into a pipe', async () => {
    const keep = path.join(tmp, 'kept');
    const result = await runCli(['demo', '--keep', keep], { TMPDIR: tmp });
    expect(result.code).toBe(0);
    const out = result.stdout;
    for (const heading of ['Starting Sealpost', 'What your receiver got', 'Verifying with @sealpost/verify', 'The audit checkpoint', 'Try next']) expect(out).toContain(heading);
    expect(out).toContain('webhook-signature: v1a,');
    expect(out).toContain('"filename": "INV-1002.csv"');
    expect(out).not.toContain('\u001b[');
    const key = /API key\s+(sp_live_\S+)/.exec(out)?.[1];
    expect(key).toBeDefined();
    const exported = /export KEY=(\S+) CA=(\S+) API=(\S+)/.exec(out);
    expect(exported?.[1]).toBe(key);
    expect(existsSync(exported![2]!)).toBe(true);
    expect(exported![2]!.startsWith(keep)).toBe(true);
    expect(out).toContain('curl --cacert $CA -H "authorization: Bearer $KEY" $API/v1/payloads');
    expect(existsSync(path.join(keep, 'data', 'sealpost.db'))).toBe(true);
  });

  it('refuses to --keep into a directory that is not empty, and touches nothing there', async () => {
    const dir = path.join(tmp, 'not-empty');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
    const result = await runCli(['demo', '--keep', dir], { TMPDIR: tmp });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not empty; --keep needs a new or empty directory/);
    expect(readdirSync(dir)).toEqual(['precious.txt']);
  });
});
