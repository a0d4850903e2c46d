import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AuditActor } from '../../audit/audit-event.js';
import type { SealpostConfig } from '../../config/config.schema.js';
import { SealpostError } from '../../errors/sealpost-error.js';
import { MAX_ARMORED_KEY_BYTES, type SecurityKeyInfo } from '../../trust/security-key.service.js';
import { print, withSealpost } from '../cli-support.js';

/** The CLI acts for the deployment itself: the system actor, named in every event it writes. */
const CLI_ACTOR: AuditActor = { type: 'system', id: 'sealpost-cli' };

/** The key's user id unless given: the deployment's security inbox (RFC 2142 `security@`). */
export function defaultSecurityUserId(config: Pick<SealpostConfig, 'inboundDomain'>): { name: string; email: string } {
  return { name: `${config.inboundDomain} security team`, email: `security@${config.inboundDomain}` };
}

function describe(key: SecurityKeyInfo): string {
  return [
    `fingerprint  ${key.fingerprint}`,
    `user id      ${key.userId}`,
    `algorithm    ${key.algorithm}`,
    `source       ${key.source}, ${new Date(key.createdAt).toISOString()}`,
    `expires      ${key.expiresAt === null ? 'never' : new Date(key.expiresAt).toISOString()}`,
  ].join('\n');
}

function json(key: SecurityKeyInfo): Record<string, unknown> {
  return {
    id: key.id,
    fingerprint: key.fingerprint,
    user_id: key.userId,
    algorithm: key.algorithm,
    source: key.source,
    created_at: new Date(key.createdAt).toISOString(),
    expires_at: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
  };
}

/** The first line on standard input: a passphrase is never an argument (shell history, `ps`). */
async function readStdinLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > 4096) break;
  }
  return text.split('\n')[0]?.replace(/\r$/, '') ?? '';
}

function readKeyFile(file: string): string {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (cause) {
    throw new SealpostError('SP_ERR_TRUST_KEY_INVALID', `Cannot read ${file}`, { cause });
  }
  if (text.length > MAX_ARMORED_KEY_BYTES) throw new SealpostError('SP_ERR_TRUST_KEY_INVALID', `${file} is larger than ${MAX_ARMORED_KEY_BYTES} bytes: not one OpenPGP private key`);
  return text.toString('utf8');
}

export function registerSecurityKey(program: Command): void {
  const cmd = program
    .command('security-key')
    .description("the deployment's OpenPGP security key: signs /.well-known/security.txt; its public key is served at /security/pgp-key.asc");

  cmd
    .command('create')
    .description('generate a new key (Ed25519 signing, Curve25519 encryption); the private key is stored sealed by the key provider')
    .option('--name <name>', 'name in the user id (default: "<inbound domain> security team")')
    .option('--email <email>', 'e-mail in the user id (default: security@<inbound domain>)')
    .option('--replace', 'replace the current key (it stays on record, marked replaced)')
    .option('--json', 'print JSON')
    .action(async (options: { name?: string; email?: string; replace?: boolean; json?: boolean }) => {
      const key = await withSealpost((sealpost, config) => {
        const fallback = defaultSecurityUserId(config);
        return sealpost.trust.securityKeys.create({ name: options.name ?? fallback.name, email: options.email ?? fallback.email, replace: options.replace === true, actor: CLI_ACTOR });
      });
      print(json(key), options.json === true, () => `Security key created.\n${describe(key)}`);
    });

  cmd
    .command('import <file>')
    .description('import an armored OpenPGP private key; delete the file afterwards: the key is kept only sealed')
    .option('--passphrase-stdin', "read the key's passphrase from the first line of standard input")
    .option('--replace', 'replace the current key (it stays on record, marked replaced)')
    .option('--json', 'print JSON')
    .action(async (file: string, options: { passphraseStdin?: boolean; replace?: boolean; json?: boolean }) => {
      const armored = readKeyFile(file);
      const passphrase = options.passphraseStdin === true ? await readStdinLine() : undefined;
      const key = await withSealpost((sealpost) =>
        sealpost.trust.securityKeys.import({ armored, ...(passphrase === undefined ? {} : { passphrase }), replace: options.replace === true, actor: CLI_ACTOR }),
      );
      print(json(key), options.json === true, () => `Security key imported.\n${describe(key)}`);
    });

  cmd
    .command('show')
    .description('print the current key (fingerprint, user id) or, with --armor, its public key')
    .option('--armor', 'print the armored public key')
    .option('--json', 'print JSON')
    .action(async (options: { armor?: boolean; json?: boolean }) => {
      const key = await withSealpost((sealpost) => sealpost.trust.securityKeys.require());
      if (options.armor === true) process.stdout.write(key.publicKeyArmored);
      else print(json(key), options.json === true, () => describe(key));
    });
}
