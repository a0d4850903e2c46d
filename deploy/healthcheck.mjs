// Container health check: is this process's HTTPS listener answering GET /healthz on loopback?
// Exit 0 when it answers 200, 1 otherwise. The certificate is not checked: the probe stays on
// 127.0.0.1 and sends nothing secret, and the certificate is for the public name, not loopback.
// Roles without an HTTPS listener (worker, scheduler) need another check (see docs/deploy.md).
import https from 'node:https';

const port = Number(process.env.SEALPOST_HTTP_PORT || 8443);
const request = https.get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 4000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', () => process.exit(1));
