/** The operations endpoint: /metrics (Prometheus), /health/live, /health/ready. */
import { createServer, type Server } from 'node:http';

import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  address: string;
  port: number;
  registry: Registry;
  /** Ready = accepting calls (false while draining for shutdown). */
  ready(): boolean;
}

export async function startOpsServer(o: OpsServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      o.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': o.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else if (url === '/health/live') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    } else if (url === '/health/ready') {
      const ok = o.ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ready\n' : 'draining\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return { server, port, close: () => new Promise((r) => server.close(() => r())) };
}
