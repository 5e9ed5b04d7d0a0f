import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

/** What the probes ask. */
export interface HealthSource {
  /** Alive: the event loop answers and the process has not given up. */
  healthy(): boolean;
  /** Ready: caches synced and, for the leader, the loop running. */
  ready(): boolean;
  /** Prometheus text exposition, if metrics are enabled. */
  metrics?(): Promise<{ contentType: string; body: string }>;
}

/** Serves /healthz, /readyz and /metrics on `address` (host:port). */
export function startServer(address: string, source: HealthSource, log: Logger): Promise<Server> {
  const [host = '127.0.0.1', port = '8080'] = splitAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? source.healthy() : source.ready();
      res
        .writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    if (path === '/metrics' && source.metrics) {
      source.metrics().then(
        ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(body),
        (err: unknown) => {
          log.warn({ err }, 'metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), host, () => {
      log.info({ address: `${host}:${port}` }, 'serving /healthz, /readyz and /metrics');
      resolve(server);
    });
  });
}

function splitAddress(address: string): [string, string] {
  const index = address.lastIndexOf(':');
  if (index < 0) return ['0.0.0.0', address];
  return [address.slice(0, index) || '0.0.0.0', address.slice(index + 1)];
}
