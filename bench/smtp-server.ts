// The process under test for bench/smtp.bench.ts: the `smtp` role wired as `sealpost start` does
// for its other roles (API + delivery worker + SMTP ingress over one AppContext). With
// BENCH_BASELINE=1 it is instead the least an SMTP server with STARTTLS can do: read the message
// and answer 250, storing nothing.
import { SMTPServer } from 'smtp-server';
import { registerApi } from '../src/app/api.js';
import { openAppContext } from '../src/app/app-context.js';
import { createLogger } from '../src/app/logger.js';
import { loadConfig } from '../src/config/config.load.js';
import { startDeliveryWorker } from '../src/delivery/delivery.worker.js';
import { destinationRoutes } from '../src/delivery/destination.routes.js';
import { enqueueDeliveries } from '../src/delivery/outbox.repository.js';
import { buildHttpServer } from '../src/http/server.js';
import { buildTlsOptions, loadTlsMaterial } from '../src/http/tls-options.js';
import { createSmtpIngress, smtpApiRoutes } from '../src/ingest/smtp/smtp-ingress.js';

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
  const context = await openAppContext(config, logger);
  const worker = startDeliveryWorker({ db: context.database.db, dialect: context.database.dialect, cipher: context.cipher, config, logger });
  const http = await buildHttpServer({ config, logger, readiness: async () => {} });
  const deliveryDeps = { db: context.database.db, cipher: context.cipher, audit: context.audit.record, config, poke: () => worker.poke() };
  const { payloads } = await registerApi(http.app, context, {
    publicUrl: 'https://localhost',
    ingestHooks: { enqueue: enqueueDeliveries, afterCommit: () => worker.poke() },
    routes: [(v1) => destinationRoutes(v1, deliveryDeps), ...smtpApiRoutes(context)],
  });
  const { port: apiPort } = await http.listen();
  // Hermetic: no DNS leaves the machine. Every lookup answers "no such record", as for a sender
  // without SPF, DKIM or DMARC, so authentication costs its parsing and hashing but no network.
  const resolver = async (name: string): Promise<string[][]> => {
    throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
  const smtp = await createSmtpIngress(context, payloads, { port: 0, host: '127.0.0.1', resolver });
  process.stdout.write(`SMTP ${smtp.port} API ${apiPort}\n`);
  process.once('SIGTERM', () => {
    void (async () => {
      await smtp.close();
      await http.close();
      await worker.stop();
      await context.close();
      process.exit(0);
    })();
  });
}
