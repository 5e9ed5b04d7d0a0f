import net from 'node:net';

/** Source hosts the benchmark's Downloaders are spread over. */
export interface SourceHosts {
  /** One origin per host, for example http://127.0.0.2:41234. */
  urls: string[];
  close(): Promise<void>;
}

/**
 * Makes `count` distinct source hosts out of the one stand-in API: a TCP forwarder on each of
 * the loopback addresses 127.0.0.2, 127.0.0.3... (Linux routes all of 127.0.0.0/8 to lo), so
 * Downloaders name different origins that all reach the same server. Each origin gets one
 * REST API shared by its Downloaders: `count` is SOURCE_HOSTS of report.ts.
 */
export async function startSourceHosts(upstreamUrl: string, count = 10): Promise<SourceHosts> {
  const target = new URL(upstreamUrl);
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const host = `127.0.0.${i + 2}`;
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      sockets.add(client).add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    servers.push(server);
    urls.push(`http://${host}:${(server.address() as net.AddressInfo).port}`);
  }
  return {
    urls,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}
