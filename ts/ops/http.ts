/**
 * The operations endpoint: /metrics (Prometheus), /health/live,
 * /health/ready, and /log-level (GET: the current level; PUT with a level
 * name as the body, e.g. `debug`: sets it and answers the new level).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  address: string;
  port: number;
  registry: Registry;
  /** Ready = accepting calls (false while draining for shutdown). */
  ready(): boolean;
  /** Run-time log level; absent: no /log-level endpoint. */
  logLevel?: {
    get(): string;
    /** Sets the level; throws (answered 400) when the name is not a level. */
    set(level: string): string;
  };
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
  res.end(body);
}

function handleLogLevel(req: IncomingMessage, res: ServerResponse, control: NonNullable<OpsServerOptions['logLevel']>): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    text(res, 200, control.get() + '\n');
    return;
  }
  if (req.method !== 'PUT' && req.method !== 'POST') {
    text(res, 405, 'use GET, or PUT with a level name as the body\n', { Allow: 'GET, PUT, POST' });
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > 1024) req.destroy();
  });
  req.on('end', () => {
    let wanted = body.trim();
    // Also accept a JSON string or {"level": "..."}.
    if (wanted.startsWith('{') || wanted.startsWith('"')) {
      try {
        const v = JSON.parse(wanted) as unknown;
        wanted = typeof v === 'string' ? v : String((v as { level?: unknown }).level ?? '');
      } catch {
        /* not JSON: refused below as an unknown level */
      }
    }
    try {
      text(res, 200, control.set(wanted) + '\n');
    } catch (err) {
      text(res, 400, (err as Error).message + '\n');
    }
  });
}

export async function startOpsServer(o: OpsServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (o.logLevel && url.split('?')[0] === '/log-level') {
      handleLogLevel(req, res, o.logLevel);
    } else if (url === '/metrics') {
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
