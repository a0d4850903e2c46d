import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSelfSignedCert } from '../../src/crypto/self-signed-cert.js';
import { buildHttpServer } from '../../src/http/server.js';
import { loadTlsMaterial } from '../../src/crypto/tls-options.js';
import { capturingLogger, handshake, makeTempDir, removeDirs, request, serveForTests, testConfig } from './http-test-support.js';

const OPENSSL = '/usr/bin/openssl';

/** Options a client needs to really offer TLS 1.1: OpenSSL 3 disables it below security level 0. */
const TLS11_CLIENT = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

function sClient(port: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(OPENSSL, ['s_client', '-connect', `127.0.0.1:${port}`, '-brief', ...args], (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
    // End of input makes s_client close the connection right after the handshake.
    child.stdin?.end();
  });
}

/** A certificate/key pair in its own directory, made with the same generator as the self-signed one. */
async function makeCertPair(dirs: string[]): Promise<{ certFile: string; keyFile: string; fingerprint: string }> {
  const dir = await makeTempDir('sealpost-cert-');
  dirs.push(dir);
  const pair = await ensureSelfSignedCert(dir);
  return { certFile: pair.certFile, keyFile: pair.keyFile, fingerprint: pair.fingerprint };
}

describe('TLS versions (default minimum TLSv1.2)', () => {
  const listening = serveForTests();

  it('negotiates TLSv1.3 with a default client', async () => {
    expect((await handshake(listening.port)).protocol).toBe('TLSv1.3');
  });

  it('accepts a TLSv1.2-only client with TLSv1.2', async () => {
    expect((await handshake(listening.port, { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
  });

  it('refuses a client that offers at most TLS 1.1 (RFC 8996)', async () => {
    await expect(handshake(listening.port, TLS11_CLIENT)).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
  });

  it('completes an openssl s_client -tls1_3 handshake', async () => {
    const result = await sClient(listening.port, ['-tls1_3']);
    expect(result.code).toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/Protocol version: TLSv1\.3/);
  });

  it('refuses openssl s_client -tls1_1', async () => {
    const result = await sClient(listening.port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/alert protocol version/);
  });
});

describe('TLS minimum TLSv1.3', () => {
  const dirs: string[] = [];
  afterEach(() => removeDirs(dirs));

  it('refuses a TLSv1.2-only client when tlsMinVersion is TLSv1.3', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const server = await buildHttpServer({
      config: testConfig(dataDir, { tlsMinVersion: 'TLSv1.3' }),
      logger: capturingLogger().logger,
      readiness: async () => {},
    });
    try {
      const { port } = await server.listen();
      await expect(handshake(port, { maxVersion: 'TLSv1.2' })).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
      expect((await handshake(port)).protocol).toBe('TLSv1.3');
    } finally {
      await server.close();
    }
  });
});

describe('configured certificate', () => {
  const dirs: string[] = [];
  afterEach(() => removeDirs(dirs));

  it('is served instead of a self-signed one', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const pair = await makeCertPair(dirs);
    const server = await buildHttpServer({
      config: testConfig(dataDir, { tlsCert: pair.certFile, tlsKey: pair.keyFile }),
      logger: capturingLogger().logger,
      readiness: async () => {},
    });
    try {
      const { port, fingerprint } = await server.listen();
      expect(fingerprint).toBeUndefined();
      expect((await handshake(port)).fingerprint).toBe(pair.fingerprint);
      const ca = await readFile(pair.certFile, 'utf8');
      expect((await request(port, { path: '/healthz', ca })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('is replaced by reloadTls() for new connections while an open connection keeps working', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const [oldPair, newPair] = [await makeCertPair(dirs), await makeCertPair(dirs)];
    const certFile = path.join(dataDir, 'server.crt');
    const keyFile = path.join(dataDir, 'server.key');
    await copyFile(oldPair.certFile, certFile);
    await copyFile(oldPair.keyFile, keyFile);
    const server = await buildHttpServer({
      config: testConfig(dataDir, { tlsCert: certFile, tlsKey: keyFile }),
      logger: capturingLogger().logger,
      readiness: async () => {},
    });
    const oldCa = await readFile(oldPair.certFile, 'utf8');
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1, ca: oldCa });
    try {
      const { port } = await server.listen();
      const before = await request(port, { path: '/healthz', agent: keepAlive });
      expect(before.peerFingerprint).toBe(oldPair.fingerprint);

      await copyFile(newPair.certFile, certFile);
      await copyFile(newPair.keyFile, keyFile);
      await server.reloadTls();

      expect((await handshake(port)).fingerprint).toBe(newPair.fingerprint);
      expect(server.tls.fingerprint).toBe(newPair.fingerprint);
      const onOpenConnection = await request(port, { path: '/healthz', agent: keepAlive });
      expect(onOpenConnection.reusedSocket).toBe(true);
      expect(onOpenConnection.status).toBe(200);
      expect(onOpenConnection.peerFingerprint).toBe(oldPair.fingerprint);
      // The new context keeps the version floor: a reload cannot fall back to weaker defaults.
      await expect(handshake(port, TLS11_CLIENT)).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    } finally {
      keepAlive.destroy();
      await server.close();
    }
  });

  it('keeps serving the previous certificate when a reload finds a broken file', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const pair = await makeCertPair(dirs);
    const certFile = path.join(dataDir, 'server.crt');
    await copyFile(pair.certFile, certFile);
    const server = await buildHttpServer({
      config: testConfig(dataDir, { tlsCert: certFile, tlsKey: pair.keyFile }),
      logger: capturingLogger().logger,
      readiness: async () => {},
    });
    try {
      const { port } = await server.listen();
      await writeFile(certFile, 'not a certificate');

      await expect(server.reloadTls()).rejects.toMatchObject({ code: 'SP_ERR_TLS_CERT_INVALID' });

      expect((await handshake(port)).fingerprint).toBe(pair.fingerprint);
    } finally {
      await server.close();
    }
  });

  it('fails with SP_ERR_TLS_CERT_INVALID naming an unreadable file', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const pair = await makeCertPair(dirs);
    const missing = path.join(dataDir, 'missing.crt');

    await expect(loadTlsMaterial(testConfig(dataDir, { tlsCert: missing, tlsKey: pair.keyFile }))).rejects.toMatchObject({
      code: 'SP_ERR_TLS_CERT_INVALID',
      message: expect.stringContaining(missing),
    });
  });

  it('fails with SP_ERR_TLS_KEY_MISMATCH when the key belongs to another certificate', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const [one, other] = [await makeCertPair(dirs), await makeCertPair(dirs)];

    await expect(loadTlsMaterial(testConfig(dataDir, { tlsCert: one.certFile, tlsKey: other.keyFile }))).rejects.toMatchObject({
      code: 'SP_ERR_TLS_KEY_MISMATCH',
    });
  });

  it('fails with SP_ERR_TLS_CERT_INVALID when the key file holds no key', async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    const pair = await makeCertPair(dirs);

    await expect(loadTlsMaterial(testConfig(dataDir, { tlsCert: pair.certFile, tlsKey: pair.certFile }))).rejects.toMatchObject({
      code: 'SP_ERR_TLS_CERT_INVALID',
    });
  });
});
