// Baseline (a): the least an HTTPS JSON endpoint can do — parse the body, answer 202.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const app = Fastify({ https: { cert: readFileSync(process.env.BENCH_CERT!), key: readFileSync(process.env.BENCH_KEY!), minVersion: 'TLSv1.2' } });
app.post('/v1/payloads', async (request, reply) => reply.code(202).send({ id: 'msg_x', size: JSON.stringify(request.body).length }));
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`PORT ${(app.server.address() as { port: number }).port}\n`);
