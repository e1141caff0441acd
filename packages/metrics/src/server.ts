import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  /** The registry served at GET /metrics. */
  readonly registry: Registry;
  /** Interface to listen on; 0.0.0.0 in containers. */
  readonly host: string;
  /** Port to listen on; 0 picks a free port (read it from `address`). */
  readonly port: number;
  /** Whether the service is ready (GET /readyz answers 200, else 503). A throw or rejection counts as not ready. */
  readonly ready: () => boolean | Promise<boolean>;
}

/** A running metrics server. */
export interface MetricsServer {
  /** host:port it is bound to (IPv6 hosts in brackets). */
  readonly address: string;
  /** Stops listening and ends open connections; idempotent. */
  close(): Promise<void>;
}

/**
 * Serves GET /metrics (the registry, in its content type), /healthz (200 "ok" while the process runs) and
 * /readyz (200 "ready" or 503 "not ready"); anything else is 404. Resolves once bound.
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    void handle(o, req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  // Scrapers keep connections alive; never let them hold the process open.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | null = null;
  return {
    address: `${host}:${bound.port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

async function handle(o: MetricsServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed\n');
  switch (path) {
    case '/metrics': {
      const body = await o.registry.metrics();
      res.writeHead(200, { 'content-type': o.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    case '/healthz':
      return text(res, 200, 'ok\n');
    case '/readyz': {
      let ready = false;
      try {
        ready = await o.ready();
      } catch {
        ready = false;
      }
      return ready ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
    }
    default:
      return text(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
  }
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}
