import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSelfSignedCert, selfSignedPaths } from '../../src/crypto/self-signed-cert.js';
import { buildHttpServer } from '../../src/http/server.js';
import { capturingLogger, handshake, makeTempDir, removeDirs, request, testConfig } from './http-test-support.js';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';
const DAY_MS = 24 * 60 * 60 * 1000;

describe('self-signed certificate', () => {
  const dirs: string[] = [];
  afterEach(() => removeDirs(dirs));

  it('is generated on first start with a 0600 key in a 0700 directory', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);

    const created = await ensureSelfSignedCert(dataDir);

    expect(created.generated).toBe(true);
    const paths = selfSignedPaths(dataDir);
    expect((await stat(paths.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(paths.certFile, 'utf8')).toBe(created.cert);
  });

  it('is for localhost: ECDSA P-256, SAN localhost/127.0.0.1/::1, serverAuth, one year', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);

    const created = await ensureSelfSignedCert(dataDir);
    const cert = new X509Certificate(created.cert);

    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.ca).toBe(false);
    const days = (Date.parse(cert.validTo) - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(363);
    expect(days).toBeLessThanOrEqual(366);
  });

  it('is reused on later starts with the same fingerprint', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);

    const first = await ensureSelfSignedCert(dataDir);
    const second = await ensureSelfSignedCert(dataDir);

    expect(second.generated).toBe(false);
    expect(second.fingerprint).toBe(first.fingerprint);
  });

  it('has the fingerprint openssl x509 -fingerprint -sha256 prints', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);

    const created = await ensureSelfSignedCert(dataDir);
    const { stdout } = await run(OPENSSL, ['x509', '-noout', '-fingerprint', '-sha256', '-in', created.certFile]);

    const octets = created.fingerprint.split(':');
    expect(octets).toHaveLength(32);
    expect(octets.every((octet) => /^[0-9A-F]{2}$/.test(octet))).toBe(true);
    expect(stdout.trim().split('=')[1]).toBe(created.fingerprint);
  });

  it('is replaced within 30 days of expiry', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const first = await ensureSelfSignedCert(dataDir);

    const stillFine = await ensureSelfSignedCert(dataDir, { now: new Date(first.notAfter.getTime() - 31 * DAY_MS) });
    const renewed = await ensureSelfSignedCert(dataDir, { now: new Date(first.notAfter.getTime() - 29 * DAY_MS) });

    expect(stillFine.generated).toBe(false);
    expect(renewed.generated).toBe(true);
    expect(renewed.fingerprint).not.toBe(first.fingerprint);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
  });

  it('is replaced when the key file is corrupt or does not match', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const first = await ensureSelfSignedCert(dataDir);
    await writeFile(first.keyFile, 'not a key');

    const replaced = await ensureSelfSignedCert(dataDir);

    expect(replaced.generated).toBe(true);
    expect(replaced.fingerprint).not.toBe(first.fingerprint);
  });

  it('tightens a key file loosened to 0644 back to 0600', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const first = await ensureSelfSignedCert(dataDir);
    await chmod(first.keyFile, 0o644);

    await ensureSelfSignedCert(dataDir);

    expect((await stat(first.keyFile)).mode & 0o777).toBe(0o600);
  });

  it('is served by the HTTPS server, which reports the same fingerprint on every start', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const fingerprints: string[] = [];

    for (let start = 0; start < 2; start += 1) {
      const server = await buildHttpServer({ config: testConfig(dataDir), logger: capturingLogger().logger, readiness: async () => {} });
      try {
        const { port, fingerprint, certificateGenerated } = await server.listen();
        expect(certificateGenerated).toBe(start === 0);
        expect((await handshake(port)).fingerprint).toBe(fingerprint);
        // Pinning the generated certificate as the only CA verifies it, SAN IP 127.0.0.1 included.
        const ca = await readFile(selfSignedPaths(dataDir).certFile, 'utf8');
        expect((await request(port, { path: '/healthz', ca })).status).toBe(200);
        fingerprints.push(fingerprint ?? '');
      } finally {
        await server.close();
      }
    }

    expect(fingerprints[1]).toBe(fingerprints[0]);
  });
});
