import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const TIMEOUT_MS = 120_000;

function hasShell(shell: string): boolean {
  try {
    execFileSync(shell, ['-c', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('sealpost completion', { timeout: TIMEOUT_MS }, () => {
  let dir: string;
  let bashScript: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-completion-'));
    const result = await runCli(['completion', 'bash'], {});
    expect(result.code).toBe(0);
    bashScript = path.join(dir, 'sealpost.bash');
    writeFileSync(bashScript, result.stdout);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** What bash offers after `words` (the last one being completed). */
  function complete(...words: string[]): string[] {
    const line = ['sealpost', ...words];
    const script = `source ${JSON.stringify(bashScript)}; COMP_WORDS=(${line.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${line.length - 1}; _sealpost_completion; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8' }).split('\n').filter(Boolean);
  }

  it.runIf(hasShell('bash'))('completes commands, subcommands and options in bash', () => {
    expect(complete('')).toEqual(expect.arrayContaining(['start', 'demo', 'verify', 'audit', 'keys', 'completion', '--version']));
    expect(complete('ke')).toEqual(['keys']);
    expect(complete('keys', 'r')).toEqual(['reseal-legacy', 'rotate']);
    expect(complete('keys', 'ro')).toEqual(['rotate']);
    expect(complete('keys', 'rotate', '--')).toEqual(expect.arrayContaining(['--signing', '--tenant', '--kek', '--help']));
    // Options already typed do not lose the command path.
    expect(complete('verify', 'webhook', '--tenant', 'ten_x', '--he')).toEqual(['--headers', '--help']);
    expect(complete('start', '--role', 'x', '--r')).toEqual(['--role']);
    // A positional argument (a file) is skipped like an option value.
    expect(complete('verify', 'receipt', 'r.json', '--te')).toEqual(['--tenant']);
  });

  it.runIf(hasShell('zsh'))('prints a zsh script that zsh parses', async () => {
    const result = await runCli(['completion', 'zsh'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('bashcompinit');
    const file = path.join(dir, 'sealpost.zsh');
    writeFileSync(file, result.stdout);
    execFileSync('zsh', ['-n', file]);
  });

  it('prints the zsh script through bashcompinit, and refuses another shell as a usage error (exit 2)', async () => {
    const zsh = await runCli(['completion', 'zsh'], {});
    expect(zsh.stdout).toMatch(/^# sealpost completion for zsh/);
    expect(zsh.stdout).toContain('autoload -U +X bashcompinit && bashcompinit');
    expect(zsh.stdout).toContain('complete -o default -F _sealpost_completion sealpost');
    const fish = await runCli(['completion', 'fish'], {});
    expect(fish.code).toBe(2);
    expect(fish.stderr).toMatch(/Allowed choices are bash, zsh/);
  });
});
