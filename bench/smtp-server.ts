// The process under test for bench/smtp.bench.ts: the `smtp` role wired as `sealpost start` does
// for its other roles (API + delivery worker, which signs, + SMTP ingress over one composition root). With
// BENCH_BASELINE=1 it is instead the least an SMTP server with STARTTLS can do: read the message
// and answer 250, storing nothing.
import { SMTPServer } from 'smtp-server';
import { startApi } from '../src/app/api.js';
import { createLogger } from '../src/logging/logger.js';
import { createSealpost } from '../src/app/sealpost.js';
import { startSmtp } from '../src/app/smtp.js';
import { startWorker } from '../src/app/worker.js';
import { loadConfig } from '../src/config/config.load.js';
import { enqueueDeliveries } from '../src/delivery/outbox.repository.js';
import { buildTlsOptions, loadTlsMaterial } from '../src/crypto/tls-options.js';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);

if (process.env.BENCH_BASELINE === '1') {
  const tls = buildTlsOptions(config, await loadTlsMaterial(config));
  const server = new SMTPServer({
    ...tls,
    size: config.smtpMaxMessageBytes,
    authOptional: true,
    disabledCommands: ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      stream.on('end', () => callback(null, 'OK'));
      stream.resume();
    },
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`SMTP ${(server.server.address() as { port: number }).port} API 0\n`));
} else {
  const sealpost = await createSealpost(config, { logger, publicUrl: 'https://localhost', enqueue: enqueueDeliveries });
  const worker = startWorker(sealpost);
  const api = await startApi(sealpost, { readiness: async () => {} });
  // Hermetic: no DNS leaves the machine. Every lookup answers "no such record", as for a sender
  // without SPF, DKIM or DMARC, so authentication costs its parsing and hashing but no network.
  const resolver = async (name: string): Promise<string[][]> => {
    throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
  const smtp = await startSmtp(sealpost, { port: 0, host: '127.0.0.1', resolver });
  process.stdout.write(`SMTP ${smtp.port} API ${api.listening.port}\n`);
  process.once('SIGTERM', () => {
    void (async () => {
      await smtp.close();
      await api.close();
      await worker.stop();
      await sealpost.close();
      process.exit(0);
    })();
  });
}
