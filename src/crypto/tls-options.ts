import { X509Certificate, constants, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Logger } from '../logging/logger.js';
import type { SealpostConfig } from '../config/config.schema.js';
import { SealpostError } from '../errors/sealpost-error.js';
import { ensureSelfSignedCert } from './self-signed-cert.js';

export type TlsConfig = Pick<SealpostConfig, 'dataDir' | 'tlsCert' | 'tlsKey' | 'tlsMinVersion'>;

/** The certificate and key to serve, wherever they came from. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly source: 'configured' | 'self-signed';
  /** SHA-256 fingerprint (colon hex) of the leaf certificate. */
  readonly fingerprint: string;
  readonly notAfter: Date;
  /** Self-signed only: the certificate was created by this call. */
  readonly generated: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Warn this long before a configured certificate expires; renewing it is the operator's job. */
const EXPIRY_WARNING_DAYS = 30;

/**
 * Reads the configured certificate and key, or the self-signed one from the data dir (created on
 * first start). Throws a SealpostError naming the file when a configured file is unusable.
 */
export async function loadTlsMaterial(config: TlsConfig, logger?: Logger): Promise<TlsMaterial> {
  if (config.tlsCert === undefined && config.tlsKey === undefined) {
    const selfSigned = await ensureSelfSignedCert(config.dataDir, logger ? { logger } : {});
    return {
      cert: selfSigned.cert,
      key: selfSigned.key,
      source: 'self-signed',
      fingerprint: selfSigned.fingerprint,
      notAfter: selfSigned.notAfter,
      generated: selfSigned.generated,
    };
  }
  if (config.tlsCert === undefined || config.tlsKey === undefined) {
    throw new SealpostError('SP_ERR_CONFIG_INVALID', 'SEALPOST_TLS_CERT and SEALPOST_TLS_KEY: set both or neither');
  }

  const cert = await readPem(config.tlsCert, 'certificate (SEALPOST_TLS_CERT)');
  const key = await readPem(config.tlsKey, 'private key (SEALPOST_TLS_KEY)');
  let leaf: X509Certificate;
  try {
    // The first certificate of the chain is the leaf the key belongs to.
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new SealpostError('SP_ERR_TLS_CERT_INVALID', `${config.tlsCert} does not hold a PEM certificate`, { cause: err });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new SealpostError(
      'SP_ERR_TLS_CERT_INVALID',
      `${config.tlsKey} does not hold an unencrypted PEM private key`,
      { cause: err },
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new SealpostError('SP_ERR_TLS_KEY_MISMATCH', `${config.tlsKey} is not the private key of the certificate in ${config.tlsCert}`);
  }

  const notAfter = new Date(leaf.validTo);
  const daysLeft = (notAfter.getTime() - Date.now()) / DAY_MS;
  if (daysLeft < EXPIRY_WARNING_DAYS) {
    logger?.warn(
      { certFile: config.tlsCert, notAfter: notAfter.toISOString() },
      daysLeft < 0 ? 'configured TLS certificate has expired' : 'configured TLS certificate expires soon',
    );
  }
  return { cert, key, source: 'configured', fingerprint: leaf.fingerprint256, notAfter, generated: false };
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SealpostError('SP_ERR_TLS_CERT_INVALID', `Cannot read the TLS ${what} at ${file} (${code})`, { cause: err });
  }
}

/**
 * TLS 1.2 suites offered: forward-secret ECDHE with an AEAD (AES-GCM or ChaCha20-Poly1305), for
 * ECDSA and RSA certificates, strongest first. Node's default list also allows CBC/SHA-1 and
 * CCM8 suites on TLS 1.2 (via `HIGH`); BSI TR-02102-2 and Mozilla's "intermediate" profile
 * offer only these. TLS 1.3 suites are all AEAD and listed explicitly so the set is on record.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/**
 * Options for both the server and `setSecureContext` (a reload passes the whole set again, so a
 * new context can never fall back to weaker defaults). HTTPS and the SMTP STARTTLS upgrade use
 * the same set.
 *
 * TLS 1.0 and 1.1 are refused (RFC 8996). Renegotiation is refused: a client-initiated TLS 1.2
 * renegotiation costs the server a handshake per request of the client (a cheap CPU
 * exhaustion), and nothing Sealpost does needs it. TLS 1.3 has no renegotiation.
 */
export function buildTlsOptions(config: Pick<TlsConfig, 'tlsMinVersion'>, material: TlsMaterial): TlsOptions & SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: config.tlsMinVersion ?? 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: TLS_CIPHERS,
    // Prefer the server's order (strongest first) over a client's for TLS 1.2 suites.
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
}
