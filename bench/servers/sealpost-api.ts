// The Sealpost API alone (no worker), optionally without the per-request audit events, so the
// audit benchmark can compare the two in one run. Prints "PORT n API_KEY k".
import { registerApi } from '../../src/app/api.js';
import { openAppContext } from '../../src/app/app-context.js';
import { createLogger } from '../../src/app/logger.js';
import { loadConfig } from '../../src/config/config.load.js';
import { buildHttpServer } from '../../src/http/server.js';
import { ApiKeyRepository } from '../../src/identity/api-key.repository.js';
import { ApiKeyService } from '../../src/identity/api-key.service.js';
import { TenantRepository } from '../../src/identity/tenant.repository.js';
import { TenantService } from '../../src/identity/tenant.service.js';

const config = loadConfig(process.env);
const logger = createLogger('warn');
const context = await openAppContext(config, logger);
const server = await buildHttpServer({ config, logger, readiness: async () => {} });
await registerApi(server.app, context, { publicUrl: 'https://localhost', ingestHooks: { enqueue: async () => 0 }, auditRequests: process.env.BENCH_AUDIT !== 'off' });
const { port } = await server.listen();
const db = context.database.db;
const created = await new TenantService(db, new TenantRepository(db), new ApiKeyService(new ApiKeyRepository(db))).create('bench', 'operation');
process.stdout.write(`PORT ${port} API_KEY ${created.apiKey}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => context.close()).then(() => process.exit(0));
});
