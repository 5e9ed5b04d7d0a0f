import net from 'node:net';

/**
 * A TCP proxy put between the operator and the kube-apiserver (TLS passes through untouched:
 * the server certificate names 127.0.0.1, whatever the port). It can
 *
 * - `cut()`: destroy every open connection, as a dropped watch or a restarted load balancer
 *   does; new connections are accepted at once;
 * - `block()`: cut, and refuse every new connection until `unblock()`: the operator is cut off
 *   from the API server while everybody else (kubectl in the tests) still reaches it;
 * - `blackhole()`: keep connections open but pass no byte either way, as a partition that sends
 *   no reset does, until `unblock()`.
 * - `freeze()`: the same for the connections open now only; new ones pass. Returns how many
 *   were frozen. A watch on a frozen connection hears nothing more, and nothing tells it so.
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private mode: 'open' | 'blocked' | 'blackhole' = 'open';
  /** Sockets that pass nothing more (see freeze). */
  private readonly frozen = new WeakSet<net.Socket>();
  /** Connections accepted, and refused while blocked. */
  readonly stats = { accepted: 0, refused: 0, cut: 0 };

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts a proxy to `target` (host:port) on a free loopback port. */
  static async start(target: string): Promise<TcpProxy> {
    const [host = '127.0.0.1', port = ''] = target.split(':');
    const proxy = new TcpProxy(host, Number(port));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Destroys every open connection (both sides); returns how many there were. */
  cut(): number {
    const count = this.sockets.size / 2;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.stats.cut += count;
    return count;
  }

  block(): void {
    this.mode = 'blocked';
    this.cut();
  }

  blackhole(): void {
    this.mode = 'blackhole';
    for (const socket of this.sockets) socket.pause();
  }

  freeze(): number {
    let count = 0;
    for (const socket of this.sockets) {
      this.frozen.add(socket);
      socket.pause();
      count += 1;
    }
    return count / 2;
  }

  unblock(): void {
    if (this.mode === 'blackhole') {
      // A partition that ends leaves the old connections dead: the peers have given up on them.
      this.cut();
    }
    this.mode = 'open';
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'blocked') {
      this.stats.refused += 1;
      client.destroy();
      return;
    }
    this.stats.accepted += 1;
    const upstream = net.connect(this.targetPort, this.targetHost);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.on('data', (chunk) => {
        if (this.mode !== 'blackhole' && !this.frozen.has(from)) to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
    if (this.mode === 'blackhole') {
      client.pause();
      upstream.pause();
    }
  }
}
