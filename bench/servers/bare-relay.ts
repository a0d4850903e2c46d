// Baseline (b): a store-nothing relay — Fastify receives, undici forwards, then it answers.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Agent, request } from 'undici';

const target = process.env.BENCH_TARGET!;
const agent = new Agent({ connections: 64 });
const app = Fastify({ https: { cert: readFileSync(process.env.BENCH_CERT!), key: readFileSync(process.env.BENCH_KEY!), minVersion: 'TLSv1.2' } });
app.post('/v1/payloads', async (req, reply) => {
  const body = JSON.stringify({ id: 'msg_x', received_at: new Date().toISOString(), data: req.body });
  const res = await request(target, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
  await res.body.dump();
  return reply.code(202).send({ id: 'msg_x' });
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`PORT ${(app.server.address() as { port: number }).port}\n`);
