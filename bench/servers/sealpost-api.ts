// The Sealpost API alone (no worker), optionally without the per-request audit events, so the
// audit benchmark can compare the two in one run. Prints "PORT n API_KEY k".
import { startApi } from '../../src/app/api.js';
import { createLogger } from '../../src/logging/logger.js';
import { createSealpost } from '../../src/app/sealpost.js';
import { loadConfig } from '../../src/config/config.load.js';

const config = loadConfig(process.env);
// No outbox rows: the benchmark measures the API and its audit log, not fan-out.
const sealpost = await createSealpost(config, { logger: createLogger('warn'), publicUrl: 'https://localhost', enqueue: async () => 0 });
const api = await startApi(sealpost, { readiness: async () => {}, auditRequests: process.env.BENCH_AUDIT !== 'off' });
const created = await sealpost.tenants.create('bench', 'operation');
process.stdout.write(`PORT ${api.listening.port} API_KEY ${created.apiKey}\n`);
process.on('SIGTERM', () => {
  void api.close().then(() => sealpost.close()).then(() => process.exit(0));
});
