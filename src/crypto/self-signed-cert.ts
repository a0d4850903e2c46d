import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { lazyImport } from '../util/lazy-import.js';

/**
 * @peculiar/x509, loaded only to generate a certificate (first start, renewal): a process that
 * reads its existing or configured certificate never loads it. It resolves its algorithms
 * through tsyringe, which needs the Reflect metadata API, so reflect-metadata is evaluated
 * first (see that package's README).
 */
const loadX509 = lazyImport(async () => {
  await import('reflect-metadata');
  return import('@peculiar/x509');
});

const DAY_MS = 24 * 60 * 60 * 1000;
/** One year, the validity the brief asks for (well under the 398-day browser limit). */
const VALIDITY_DAYS = 365;
/** Regenerate this early, so a long-running process never serves an expired certificate. */
const RENEW_BEFORE_DAYS = 30;
/** Backdated so clients whose clock runs slightly behind still accept a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

// ECDSA P-256 with SHA-256: the most widely supported TLS 1.3 signature scheme (RFC 8446 §9.1).
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface SelfSignedCert {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** SHA-256 fingerprint as colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint: string;
  readonly notAfter: Date;
  /** True when this call created the certificate (the caller prints the fingerprint then). */
  readonly generated: boolean;
}

export function selfSignedPaths(dataDir: string): { dir: string; certFile: string; keyFile: string } {
  const dir = path.join(dataDir, 'tls');
  return { dir, certFile: path.join(dir, 'self-signed.crt'), keyFile: path.join(dir, 'self-signed.key') };
}

/**
 * Returns the self-signed localhost certificate in `<dataDir>/tls`, creating it on first start
 * and replacing it when it is missing, unreadable, mismatched, or within 30 days of expiry.
 */
export async function ensureSelfSignedCert(
  dataDir: string,
  options: { now?: Date; logger?: Logger } = {},
): Promise<SelfSignedCert> {
  const now = options.now ?? new Date();
  const paths = selfSignedPaths(dataDir);
  const existing = await readExisting(paths.certFile, paths.keyFile);
  if (existing.ok) {
    const renewAt = existing.notAfter.getTime() - RENEW_BEFORE_DAYS * DAY_MS;
    if (now.getTime() < renewAt && now.getTime() >= existing.notBefore.getTime()) {
      // A key file loosened by hand (or by a restore) is tightened again rather than served as is.
      await chmod(paths.keyFile, 0o600);
      return { ...paths, ...existing.value, generated: false };
    }
    options.logger?.info({ notAfter: existing.notAfter.toISOString() }, 'self-signed TLS certificate is due for renewal');
  } else if (existing.reason !== 'missing') {
    options.logger?.warn({ reason: existing.reason }, 'self-signed TLS certificate is unusable; generating a new one');
  }

  try {
    const created = await generate(now);
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await chmod(paths.dir, 0o700);
    // Key first, each through a rename, so a crash never leaves a half-written file behind.
    await writeAtomically(paths.keyFile, created.key, 0o600);
    await writeAtomically(paths.certFile, created.cert, 0o644);
    const parsed = new X509Certificate(created.cert);
    return {
      ...paths,
      cert: created.cert,
      key: created.key,
      fingerprint: parsed.fingerprint256,
      notAfter: new Date(parsed.validTo),
      generated: true,
    };
  } catch (err) {
    throw new SealpostError('SP_ERR_TLS_SELF_SIGNED_FAILED', `Could not create the self-signed TLS certificate in ${paths.dir}`, {
      cause: err,
    });
  }
}

type Existing =
  | { ok: true; notBefore: Date; notAfter: Date; value: Pick<SelfSignedCert, 'cert' | 'key' | 'fingerprint' | 'notAfter'> }
  | { ok: false; reason: string };

async function readExisting(certFile: string, keyFile: string): Promise<Existing> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'missing' : `unreadable (${code ?? 'error'})` };
  }
  try {
    const parsed = new X509Certificate(cert);
    if (!parsed.checkPrivateKey(createPrivateKey(key))) return { ok: false, reason: 'key does not match certificate' };
    const notAfter = new Date(parsed.validTo);
    return {
      ok: true,
      notBefore: new Date(parsed.validFrom),
      notAfter,
      value: { cert, key, fingerprint: parsed.fingerprint256, notAfter },
    };
  } catch {
    return { ok: false, reason: 'not valid PEM' };
  }
}

async function generate(now: Date): Promise<{ cert: string; key: string }> {
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 16 random bytes with the top bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: 'CN=localhost',
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + VALIDITY_DAYS * DAY_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        // Clients match the host against the SAN only, never the CN (RFC 6125 §6.4.4).
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
          { type: 'ip', value: '::1' },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { cert: cert.toString('pem'), key };
}

async function writeAtomically(file: string, contents: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // `wx`: never follow or reuse a file someone placed at the temporary name.
    await writeFile(tmp, contents, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have narrowed `mode`; make it exact
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
