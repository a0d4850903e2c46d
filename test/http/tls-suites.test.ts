import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpHarness, startSmtpHarness } from '../ingest/smtp/smtp-test-support.js';
import { serveForTests } from './http-test-support.js';

const OPENSSL = '/usr/bin/openssl';

/**
 * Runs `openssl s_client` (testssl-style: one suite offered per run) and feeds it `input` line
 * by line once connected; resolves with everything it printed.
 */
function sClient(port: number, args: string[], input: string[] = []): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(OPENSSL, ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let fed = false;
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('latin1');
      // Once the handshake is through, say what the test says (e.g. "R": renegotiate), then close.
      if (!fed && /Verify return code|Verification/.test(output)) {
        fed = true;
        for (const line of input) child.stdin.write(`${line}\n`);
        setTimeout(() => child.stdin.end(), input.length ? 500 : 0);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
    // A handshake that fails never prints the verify line: end of input lets s_client exit.
    setTimeout(() => {
      if (!fed) child.stdin.end();
    }, 3_000);
  });
}

const WEAK_TLS12_SUITES = ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-CCM8', 'ECDHE-ECDSA-AES256-CCM', 'AES128-GCM-SHA256'];
const STRONG_TLS12_SUITES = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'];

function suiteChecks(target: () => { port: number; starttls: string[] }): void {
  it.each(WEAK_TLS12_SUITES)('refuses a TLS 1.2 client offering only %s', async (suite) => {
    const { port, starttls } = target();
    const result = await sClient(port, [...starttls, '-tls1_2', '-cipher', suite]);
    expect(result.output).toMatch(/handshake failure|no cipher|no shared cipher/i);
    expect(result.output).not.toMatch(/Cipher is (?!\(NONE\))/);
  });

  it.each(STRONG_TLS12_SUITES)('accepts a TLS 1.2 client offering %s', async (suite) => {
    const { port, starttls } = target();
    const result = await sClient(port, [...starttls, '-tls1_2', '-cipher', suite]);
    expect(result.output).toContain(`Cipher is ${suite}`);
  });

  it('refuses a client-initiated TLS 1.2 renegotiation', async () => {
    const { port, starttls } = target();
    const result = await sClient(port, [...starttls, '-tls1_2'], ['R']);
    expect(result.output).toContain('RENEGOTIATING');
    expect(result.output).toMatch(/no renegotiation/i);
  });
}

describe('HTTPS cipher suites and renegotiation', () => {
  const listening = serveForTests();

  suiteChecks(() => ({ port: listening.port, starttls: [] }));
});

describe('SMTP STARTTLS cipher suites and renegotiation', () => {
  let h: SmtpHarness;

  beforeAll(async () => {
    h = await startSmtpHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  suiteChecks(() => ({ port: h.smtp.port, starttls: ['-starttls', 'smtp'] }));
});
