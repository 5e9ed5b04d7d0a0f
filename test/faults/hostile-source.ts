import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A third-party API that misbehaves on purpose, for the security tests: it reflects every request
 * header it receives (the credential the proxy adds included) in the body of an error answer, as
 * some APIs do in their error pages. Endpoints:
 *
 * - `GET /ok`: 200 `{"players": n, "server_version": "..."}`;
 * - `ANY /reflect`: 401 `{"error": "unauthorized", "received": {headers}}`.
 */
export class HostileSource {
  private readonly server: http.Server;
  /** Requests received: method, path and headers. */
  readonly requests: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }> =
    [];

  private constructor() {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
        const send = (status: number, body: unknown) => {
          const text = JSON.stringify(body);
          res.writeHead(status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
        };
        if (path.endsWith('/ok')) {
          send(200, { players: this.requests.length, server_version: 'hostile-1' });
        } else if (path.endsWith('/reflect')) {
          send(401, { error: 'unauthorized', received: req.headers });
        } else {
          send(404, { error: 'not found' });
        }
      });
    });
  }

  static async start(): Promise<HostileSource> {
    const source = new HostileSource();
    await new Promise<void>((resolve) => source.server.listen(0, '127.0.0.1', resolve));
    return source;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
